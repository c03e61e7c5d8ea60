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
