/**
 * The entry-type catalogue: every type the ledger accepts, each with the valibot schema of its `data`.
 *
 * The ledger knows only its own types (`systemEntries.ts`). Each capability declares its types beside its code
 * (`tenancy/entries.ts`, …) and adds them to `EntrySchemas` by declaration merging, the way graphile-worker lets
 * an application type its task payloads (`GraphileWorker.Tasks`): the types below then cover every entry, while
 * this folder imports no capability. At run time the application hands the same schemas to
 * `createEntryCatalogue` (see src/compose/entryTypes.ts), so an append of an unknown type, or of data that does not
 * match, is refused before SQL.
 */
import * as v from "valibot";
import { systemEntries } from "./systemEntries.ts";
import { InvalidEntryError } from "./errors.ts";
import { entryMetaSchema, type EntryMeta } from "./entryMeta.ts";

type SystemEntrySchemas = typeof systemEntries;

/**
 * Entry type → schema of its data. A capability adds its types with
 * `declare module "../ledger/catalogue.ts" { interface EntrySchemas extends MyEntrySchemas {} }`.
 */
export interface EntrySchemas extends SystemEntrySchemas {}

export type EntryType = keyof EntrySchemas;
export type EntryData<T extends EntryType> = v.InferOutput<EntrySchemas[T]>;

/** An entry before it is appended. */
export type NewEntry = { [T in EntryType]: { type: T; data: EntryData<T>; meta?: EntryMeta } }[EntryType];

/** An entry as stored. */
export type RecordedEntry = {
  [T in EntryType]: {
    type: T;
    data: EntryData<T>;
    meta: EntryMeta;
    orgId: string;
    stream: string;
    version: number;
    /** Global position, as a decimal string (bigint). */
    position: string;
    recordedAt: Date;
  };
}[EntryType];

/** The runtime half of the catalogue: validates an entry against the schema of its type. */
export interface EntryCatalogue {
  /** Validates an entry and returns its normalised data and meta; throws `InvalidEntryError`. */
  validate(entry: { type: string; data: unknown; meta?: unknown }): { data: unknown; meta: EntryMeta };
}

const describe = (issues: readonly v.BaseIssue<unknown>[]): string[] =>
  issues.map((issue) => {
    const where = issue.path?.map((item) => String(item.key)).join(".");
    return where ? `${where}: ${issue.message}` : issue.message;
  });

function catalogueOf(schemas: Readonly<Record<string, v.GenericSchema>>): EntryCatalogue {
  return {
    validate(entry) {
      const schema = Object.hasOwn(schemas, entry.type) ? schemas[entry.type] : undefined;
      if (!schema) throw new InvalidEntryError(entry.type, ["unknown entry type"]);
      const data = v.safeParse(schema, entry.data);
      if (!data.success) throw new InvalidEntryError(entry.type, describe(data.issues));
      const meta = v.safeParse(entryMetaSchema, entry.meta ?? {});
      if (!meta.success) throw new InvalidEntryError(entry.type, describe(meta.issues).map((p) => `meta ${p}`));
      return { data: data.output, meta: meta.output };
    },
  };
}

/**
 * The application's catalogue. The parameter's type asks for every type `EntrySchemas` declares, so a capability
 * that declares its types but does not hand over their schemas fails the type check.
 *
 * @example
 * const catalogue = createEntryCatalogue({ ...systemEntries, ...tenancyEntries, ...outboundEntries, ...inboundEntries });
 * catalogue.validate({ type: "token.revoked", data: { token_id } }); // { data, meta: {} }
 */
export const createEntryCatalogue = (schemas: { readonly [T in EntryType]: EntrySchemas[T] }): EntryCatalogue => catalogueOf(schemas);

/** The ledger's own entry types only: what `append` checks against when the caller gives no catalogue. */
export const systemEntryCatalogue: EntryCatalogue = catalogueOf(systemEntries);
