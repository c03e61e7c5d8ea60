/**
 * Every ledger entry type, with its schema: the ledger's own and each capability's. The capabilities' entries.ts
 * files add the same types to the catalogue's types; leaving one out here fails the type check.
 */
import { createEntryCatalogue, type EntryCatalogue } from "../ledger/catalogue.ts";
import { systemEntries } from "../ledger/systemEntries.ts";
import { tenancyEntries } from "../tenancy/entries.ts";
import { outboundEntries } from "../outbound/entries.ts";
import { inboundEntries } from "../inbound/entries.ts";
import { consoleEntries } from "../console/entries.ts";

/** Every entry type's schema, by type. */
export const entrySchemas = { ...systemEntries, ...tenancyEntries, ...outboundEntries, ...inboundEntries, ...consoleEntries };

export const entryCatalogue: EntryCatalogue = createEntryCatalogue(entrySchemas);
