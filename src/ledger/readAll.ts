/**
 * Tails the ledger: every entry after a checkpoint, safely under concurrent writers.
 *
 * Why not "position > N": positions are drawn at insert, but transactions commit in any order, so an entry with a
 * lower position can become visible after a reader has moved past it, and would be skipped forever. We read only
 * entries whose transaction is older than every transaction still running (`xact_id < pg_snapshot_xmin`), ordered
 * by (xact_id, position); the checkpoint is that pair. An entry committed late always sorts after the checkpoint.
 *
 * Under the service role this reads the current tenant's entries; under hookledger_admin or an auditor, all.
 */
import type { Queryable } from "../db/connect.ts";
import type { RecordedEntry } from "./catalogue.ts";
import { ledgerColumns, toRecordedEntry, type LedgerRow } from "./rows.ts";

export interface LedgerCheckpoint {
  /** Transaction id (xid8) as a decimal string. */
  xactId: string;
  position: string;
}

export const START_OF_LEDGER: LedgerCheckpoint = { xactId: "0", position: "0" };

export async function readAll(
  sql: Queryable,
  options: { after?: LedgerCheckpoint; limit?: number } = {},
): Promise<{ entries: RecordedEntry[]; checkpoint: LedgerCheckpoint }> {
  const after = options.after ?? START_OF_LEDGER;
  const rows = await sql<(LedgerRow & { xact_id: string })[]>`
    select ${sql.unsafe(ledgerColumns)}, xact_id::text as xact_id from hookledger.ledger
    where (xact_id, position) > (${after.xactId}::xid8, ${after.position}::bigint)
      and xact_id < pg_snapshot_xmin(pg_current_snapshot())
    order by xact_id, position
    limit ${options.limit ?? 1000}`;
  const last = rows.at(-1);
  return {
    entries: rows.map(toRecordedEntry),
    checkpoint: last ? { xactId: last.xact_id, position: String(last.position) } : after,
  };
}
