/**
 * Brings a database to the state this build needs, as the owner: the caller's steps before our migrations, our
 * migrations, the service role's login, then the caller's steps after them. Safe to run from several processes
 * at once (the migrator's advisory lock serialises them, steps included).
 *
 * The steps come from the caller (src/compose/database.ts: graphile-worker's schema before, the ledger's
 * partitions after) so this folder needs nothing from the folders built on it.
 */
import type { Logger } from "../log.ts";
import { connect, deriveServicePassword, SERVICE_ROLE } from "./connect.ts";
import { ownerClientOf, type OwnerClient } from "./ownerClient.ts";
import { migrate, type MigrationReport } from "./migrate.ts";

export interface PreparationSteps {
  /** Runs first, under the migrator's lock: schemas our migration files refer to. */
  beforeMigrations(): Promise<void>;
  /** Runs last, under the migrator's lock, as the owner. */
  afterMigrations(owner: OwnerClient): Promise<void>;
}

export async function prepareDatabaseWith(
  options: {
    ownerUrl: string;
    /** true when the service role's password is ours to set (no HOOKLEDGER_SERVICE_DATABASE_URL). */
    manageServicePassword: boolean;
    log: Logger;
    migrationsDir?: string;
  },
  steps: PreparationSteps,
): Promise<MigrationReport> {
  const owner = connect(options.ownerUrl, { max: 2, applicationName: "hookledger-migrate" });
  try {
    const report = await migrate(owner, {
      directory: options.migrationsDir,
      beforeFiles: () => steps.beforeMigrations(),
      afterFiles: async (sql) => {
        const password = options.manageServicePassword ? deriveServicePassword(options.ownerUrl) : undefined;
        if (password !== undefined) {
          // base64url only: safe inside a literal. ALTER ROLE takes no bind parameters.
          if (!/^[A-Za-z0-9_-]+$/.test(password)) throw new Error("derived service password has unexpected characters");
          await sql.unsafe(`alter role ${SERVICE_ROLE} with login password '${password}'`);
        }
        await steps.afterMigrations(ownerClientOf(sql));
      },
    });
    for (const file of report.applied) options.log.debug("migration applied", { file });
    return report;
  } finally {
    await owner.end({ timeout: 5 });
  }
}
