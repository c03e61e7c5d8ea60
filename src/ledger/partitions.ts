/**
 * Monthly ledger partitions, created ahead of time: at migrate, and hourly by the `ledger.ensure_partitions` cron
 * task. Runs as the owner (creating a partition needs ownership of the parent table).
 */
import type { OwnerClient } from "../db/ownerClient.ts";

export async function ensureLedgerPartitions(owner: OwnerClient, monthsAhead: number, fromMonth?: Date): Promise<string[]> {
  const from = (fromMonth ?? new Date()).toISOString().slice(0, 10);
  const { rows } = await owner.query<{ name: string }>("select hookledger_private.ensure_ledger_partitions($1::int, $2::date) as name", [
    monthsAhead,
    from,
  ]);
  return rows.map((row) => row.name);
}
