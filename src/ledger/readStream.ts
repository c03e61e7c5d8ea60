/** Reads one stream of the current tenant, in version order. */
import type { Queryable } from "../db/connect.ts";
import type { RecordedEntry } from "./catalogue.ts";
import { ledgerColumns, toRecordedEntry, type LedgerRow } from "./rows.ts";

/**
 * @example
 * const history = await readStream(tx, `subscription:${id}`);
 * const latest = await readStream(tx, `subscription:${id}`, { fromVersion: 5, limit: 10 });
 */
export async function readStream(
  sql: Queryable,
  stream: string,
  options: { fromVersion?: number; limit?: number } = {},
): Promise<RecordedEntry[]> {
  const rows = await sql<LedgerRow[]>`
    select ${sql.unsafe(ledgerColumns)} from hookledger.ledger
    where org_id = hookledger.current_org_id() and stream = ${stream} and version >= ${options.fromVersion ?? 1}
    order by version
    limit ${options.limit ?? 10_000}`;
  return rows.map(toRecordedEntry);
}
