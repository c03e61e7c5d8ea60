/**
 * How a capability removes a tenant's projection rows older than its retention (see retention.ts). The ledger
 * keeps every entry until its whole partition expires; the rows the API and the audit views show go on time.
 */
import type { Tx } from "../db/connect.ts";

/** Rows a pruner deleted, by kind: the kinds `retention.applied` reports. */
export type PrunedRows = Partial<Record<"attempts" | "deliveries" | "events", number>>;

/** Deletes the current tenant's projection rows older than `cutoff`, in the caller's transaction. */
export type HistoryPruner = (tx: Tx, cutoff: Date) => Promise<PrunedRows>;
