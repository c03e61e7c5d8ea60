/**
 * Projections: read tables derived from the ledger, updated in the same transaction as the append.
 *
 * Each projection names the entry types it handles, applies a batch of entries (batch, because fan-out appends
 * hundreds at once and a projection should turn them into one INSERT), and can clear its rows for a tenant so
 * it can be rebuilt from the ledger. Because live updates and rebuilds run the same `apply`, a rebuilt
 * projection equals the live one; a test proves it for every projection.
 */
import type { Tx } from "../db/connect.ts";
import type { EntryType, RecordedEntry } from "./catalogue.ts";

export interface Projection {
  readonly name: string;
  readonly handles: readonly EntryType[];
  /** Tables this projection writes; locked during a rebuild. */
  readonly tables: readonly string[];
  apply(tx: Tx, entries: RecordedEntry[]): Promise<void>;
  /** Deletes this projection's rows of the current tenant. */
  clear(tx: Tx): Promise<void>;
}

/** Identity helper that keeps projection literals type-checked. */
export function defineProjection(projection: Projection): Projection {
  return projection;
}

/**
 * Applies entries to every projection that handles them. Projections write disjoint tables, so they are issued
 * together: postgres.js pipelines their statements on the transaction's connection instead of waiting a round
 * trip for each projection in turn.
 */
export async function applyProjections(tx: Tx, projections: readonly Projection[], entries: RecordedEntry[]): Promise<void> {
  await Promise.all(
    projections.map((projection) => {
      const relevant = entries.filter((entry) => projection.handles.includes(entry.type));
      return relevant.length > 0 ? projection.apply(tx, relevant) : undefined;
    }),
  );
}
