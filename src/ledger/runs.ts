/**
 * Splits entries into maximal runs of the same type, preserving order, so a projection can apply each run with
 * one set-based statement (fan-out appends hundreds of delivery.scheduled entries at once) without reordering
 * entries of different types.
 */
import type { Tx } from "../db/connect.ts";
import type { EntryType, RecordedEntry } from "./catalogue.ts";

export type EntryOf<T extends EntryType> = Extract<RecordedEntry, { type: T }>;

export async function applyRuns(
  tx: Tx,
  entries: RecordedEntry[],
  apply: (tx: Tx, type: EntryType, run: RecordedEntry[]) => Promise<unknown>,
): Promise<void> {
  let start = 0;
  for (let i = 1; i <= entries.length; i++) {
    if (i === entries.length || entries[i]?.type !== entries[start]?.type) {
      const first = entries[start];
      if (first) await apply(tx, first.type, entries.slice(start, i));
      start = i;
    }
  }
}

/** A run's entries as rows for `jsonb_to_recordset`: the entry data plus its tenant and time. */
export const entryRows = <T extends EntryType>(run: RecordedEntry[]) =>
  (run as EntryOf<T>[]).map((entry) => ({ ...entry.data, org_id: entry.orgId, at: entry.recordedAt.toISOString() }));

/**
 * The last row per key, in ledger order. Why: `UPDATE … FROM` with two source rows for one target row applies an
 * arbitrary one. Live appends carry one entry per target, but a rebuild replays the ledger in pages, where several
 * entries for one delivery or message can sit in one run.
 */
export function lastPerKey(rows: Record<string, unknown>[], key: string): Record<string, unknown>[] {
  return [...new Map(rows.map((row) => [String(row[key]), row])).values()];
}
