/**
 * Brings a database to the state this build needs, as the owner: graphile-worker's schema, our migrations, the
 * service role's login, and the ledger partitions for the months ahead. Safe to run from several processes at
 * once (the migrator's advisory lock serialises them).
 */
import type { Logger } from "../log.ts";
import { migrateWorkerSchema } from "../worker/runner.ts";
import { ensureLedgerPartitions } from "../ledger/partitions.ts";
import { connect, deriveServicePassword, SERVICE_ROLE } from "./connect.ts";
import { ownerClientOf } from "./ownerClient.ts";
import { migrate, type MigrationReport } from "./migrate.ts";

export async function prepareDatabase(options: {
  ownerUrl: string;
  /** true when the service role's password is ours to set (no HOOKLEDGER_SERVICE_DATABASE_URL). */
  manageServicePassword: boolean;
  partitionsAhead: number;
  log: Logger;
  migrationsDir?: string;
}): Promise<MigrationReport & { partitionsCreated: string[] }> {
  const owner = connect(options.ownerUrl, { max: 2, applicationName: "hookledger-migrate" });
  try {
    let partitionsCreated: string[] = [];
    const report = await migrate(owner, {
      directory: options.migrationsDir,
      beforeFiles: () => migrateWorkerSchema(options.ownerUrl, options.log),
      afterFiles: async (sql) => {
        const password = options.manageServicePassword ? deriveServicePassword(options.ownerUrl) : undefined;
        if (password !== undefined) {
          // base64url only: safe inside a literal. ALTER ROLE takes no bind parameters.
          if (!/^[A-Za-z0-9_-]+$/.test(password)) throw new Error("derived service password has unexpected characters");
          await sql.unsafe(`alter role ${SERVICE_ROLE} with login password '${password}'`);
        }
        partitionsCreated = await ensureLedgerPartitions(ownerClientOf(sql), options.partitionsAhead);
      },
    });
    for (const file of report.applied) options.log.debug("migration applied", { file });
    return { ...report, partitionsCreated };
  } finally {
    await owner.end({ timeout: 5 });
  }
}
