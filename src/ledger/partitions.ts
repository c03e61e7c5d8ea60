/**
 * Monthly ledger partitions, created ahead of time: at migrate, and hourly by the `ledger.ensure_partitions` cron
 * task. Runs as the owner (creating a partition needs ownership of the parent table).
 */
import type { Queryable } from "../db/connect.ts";

export async function ensureLedgerPartitions(owner: Queryable, monthsAhead: number, fromMonth?: Date): Promise<string[]> {
  const from = (fromMonth ?? new Date()).toISOString().slice(0, 10);
  const rows = await owner<{ name: string }[]>`
    select hookledger_private.ensure_ledger_partitions(${monthsAhead}::int, ${from}::date) as name`;
  return rows.map((row) => row.name);
}
