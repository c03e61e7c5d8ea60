/** The application's ledger: every capability's entry types, projections and history pruners. */
import { createLedger, type Ledger } from "../ledger/ledger.ts";
import { entryCatalogue } from "./entryTypes.ts";
import { historyPruners } from "./historyPruners.ts";
import { projections } from "./projections.ts";

export const composeLedger = (): Ledger => createLedger({ entries: entryCatalogue, projections, historyPruners });
