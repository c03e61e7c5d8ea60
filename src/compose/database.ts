/**
 * Preparing hookledger's database: graphile-worker's schema, our migrations, the service role's login, and the
 * ledger partitions for the months ahead (see db/prepare.ts for the order and the locking).
 */
import { prepareDatabaseWith } from "../db/prepare.ts";
import type { MigrationReport } from "../db/migrate.ts";
import { ensureLedgerPartitions } from "../ledger/partitions.ts";
import type { Logger } from "../log.ts";
import { migrateWorkerSchema } from "../worker/runner.ts";

/**
 * @example
 * const report = await prepareDatabase({ ownerUrl, manageServicePassword: true, partitionsAhead: 3, log });
 * report.partitionsCreated; // ["ledger_y2026m12", …] on a new database
 */
export async function prepareDatabase(options: {
  ownerUrl: string;
  /** true when the service role's password is ours to set (no HOOKLEDGER_SERVICE_DATABASE_URL). */
  manageServicePassword: boolean;
  partitionsAhead: number;
  log: Logger;
  migrationsDir?: string;
}): Promise<MigrationReport & { partitionsCreated: string[] }> {
  let partitionsCreated: string[] = [];
  const report = await prepareDatabaseWith(options, {
    beforeMigrations: () => migrateWorkerSchema(options.ownerUrl, options.log),
    afterMigrations: async (owner) => {
      partitionsCreated = await ensureLedgerPartitions(owner, options.partitionsAhead);
    },
  });
  return { ...report, partitionsCreated };
}
