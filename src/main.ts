/**
 * Command-line entry: `bun src/main.ts [serve | worker | migrate | rebuild-projection NAME | admin-token |
 * seal-subscription-headers | reencrypt [--dry-run]]`.
 * With no command it runs the API and the worker in one process.
 */
import { VERSION as version } from "./version.ts";
import { ConfigError, loadConfig, type Config } from "./config.ts";
import { createCommandContext, prepareDatabase, resolveDatabase, startServices, type ResolvedDatabase, type Running } from "./boot.ts";
import { connect } from "./db/connect.ts";
import { createLogger, type Logger } from "./log.ts";
import { runtimeName } from "./http/serve/index.ts";
import { describeListeners } from "./http/listeners.ts";
import { rebuildProjectionForAll } from "./ledger/rebuildAll.ts";
import { sealSubscriptionHeadersForAll } from "./outbound/headerSealing.ts";
import { describeReencryption, reencryptAll } from "./compose/reencryption.ts";
import { createInstanceAdminToken } from "./tenancy/tokens.ts";

const usage = `hookledger — self-hosted webhooks on Postgres

Usage: bun src/main.ts [command]

Commands:
  (none)                       run the HTTP API and the delivery worker in one process
  serve                        run the HTTP API only
  worker                       run the delivery worker only (scale out: run more of these)
  migrate                      apply database migrations and exit
  rebuild-projection NAME      rebuild one projection from the ledger for every organization, then exit
  admin-token                  create a new instance admin token, print it once, then exit
  seal-subscription-headers    seal credential-like custom header values kept in clear or under an older key, then exit
  reencrypt [--dry-run]        after a keyring rotation, move every encrypted value (signing and ingress secrets, custom
                               header values, idempotency answers) to the active key and count what is under each key id;
                               --dry-run only counts. Exit code 1 while a value cannot move (its key is not in the
                               keyring, or it is altered), a key id's values do not open with the keyring's key of
                               that id (the id given to another key), or, after a run, a value is still under an old key
  --help                       show this help

Configuration comes from environment variables; see README.md ("Configuration").
`;


function fail(message: string, code: number): never {
  process.stderr.write(`hookledger: ${message}\n`);
  process.exit(code);
}

async function withDatabase<T>(config: Config, log: Logger, fn: (db: ResolvedDatabase) => Promise<T>): Promise<T> {
  const db = await resolveDatabase(config, log);
  try {
    await prepareDatabase({
      ownerUrl: db.ownerUrl,
      manageServicePassword: config.HOOKLEDGER_SERVICE_DATABASE_URL === undefined,
      partitionsAhead: config.HOOKLEDGER_LEDGER_PARTITIONS_AHEAD,
      log,
    });
    return await fn(db);
  } catch (error) {
    await db.embedded?.stop().catch(() => undefined);
    throw error;
  }
}

/**
 * A promise that fails with nobody waiting for it is logged and reported, and the service keeps running.
 *
 * Why: Node and Bun end the process on an unhandled rejection by default, and libraries start promises of their own
 * that nobody awaits. When Postgres restarts, graphile-worker 0.17.3 fails to hand its local queue's jobs back
 * while its runner stops and throws that from such a promise; `npm start` then ended the API with the worker. What
 * the service guarantees does not rest on a background promise: the worker's runner is restarted by its
 * supervisor, jobs a stopped runner held are released by the dead-worker sweep, and a request is answered only after
 * its commit. `test/db/backendsTerminated.test.ts` runs the real process through it.
 */
function keepRunningOnUnhandledRejections(log: Logger, running: Running): void {
  process.on("unhandledRejection", (reason) => {
    log.error("a background operation failed with nobody waiting for it; the service keeps running", { error: reason });
    running.ctx.errors.captureException(reason, { task: "unhandled rejection" });
  });
}

async function runServices(config: Config, log: Logger, api: boolean, worker: boolean): Promise<void> {
  await withDatabase(config, log, async (db) => {
    const running = await startServices({ config, log, database: db, api, worker });
    keepRunningOnUnhandledRejections(log, running);
    const parts = [
      api && running.listeners.length > 0 ? describeListeners(running.listeners) : undefined,
      worker ? `worker running (concurrency ${config.HOOKLEDGER_WORKER_CONCURRENCY})` : undefined,
    ].filter(Boolean);
    const warnings = [
      config.HOOKLEDGER_EGRESS_ALLOW_LOOPBACK ? "WARNING: deliveries to loopback addresses are ALLOWED (HOOKLEDGER_EGRESS_ALLOW_LOOPBACK=true; development only)" : undefined,
      !config.HOOKLEDGER_EGRESS_HTTPS_ONLY ? "WARNING: plain-http deliveries are allowed (HOOKLEDGER_EGRESS_HTTPS_ONLY=false)" : undefined,
      config.HOOKLEDGER_DEV_MODE ? "WARNING: development mode (raw: secret references accepted)" : undefined,
    ].filter(Boolean);
    process.stdout.write(`hookledger ${version} on ${runtimeName()}: ${parts.join(", ")}; database: ${db.description}${warnings.length ? `; ${warnings.join("; ")}` : ""}\n`);
    if (running.newInstanceAdminToken) {
      process.stdout.write(
        `hookledger: instance admin token (shown once; store it now, e.g. in a password manager):\n  ${running.newInstanceAdminToken}\n`,
      );
    }

    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) {
        process.stderr.write(`hookledger: ${signal} again, exiting without waiting\n`);
        process.exit(1);
      }
      stopping = true;
      log.info("shutting down", { signal });
      const deadline = setTimeout(() => {
        process.stderr.write("hookledger: shutdown grace period exceeded, exiting\n");
        process.exit(1);
      }, config.HOOKLEDGER_SHUTDOWN_GRACE_MS + 5000);
      void (async () => {
        await running.stop().catch((error: unknown) => log.error("error while stopping", { error }));
        await db.embedded?.stop().catch((error: unknown) => log.error("error stopping embedded Postgres", { error }));
        clearTimeout(deadline);
        process.stdout.write("hookledger stopped\n");
        process.exit(0);
      })();
    };
    process.on("SIGINT", () => shutdown("SIGINT"));
    process.on("SIGTERM", () => shutdown("SIGTERM"));
  });
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(usage);
    return;
  }
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) fail(`configuration error: ${error.message}`, 2);
    throw error;
  }
  const log = createLogger(config.HOOKLEDGER_LOG_LEVEL);

  switch (command) {
    case undefined:
      return runServices(config, log, true, true);
    case "serve":
      return runServices(config, log, true, false);
    case "worker":
      return runServices(config, log, false, true);
    case "migrate":
      return withDatabase(config, log, async (db) => {
        process.stdout.write(`hookledger: migrations applied; database: ${db.description}\n`);
        await db.embedded?.stop();
      });
    case "rebuild-projection": {
      const name = rest[0];
      if (!name) fail("rebuild-projection needs a projection name", 2);
      return withDatabase(config, log, async (db) => {
        const sql = connect(db.serviceUrl, { max: 2, applicationName: "hookledger-rebuild" });
        try {
          const result = await rebuildProjectionForAll(await createCommandContext(config, log, sql, db.embedded !== undefined), name);
          process.stdout.write(`hookledger: rebuilt ${name} for ${result.organizations} organization(s) from ${result.entries} entries\n`);
        } finally {
          await sql.end({ timeout: 5 });
          await db.embedded?.stop();
        }
      });
    }
    case "seal-subscription-headers":
      return withDatabase(config, log, async (db) => {
        const sql = connect(db.serviceUrl, { max: 2, applicationName: "hookledger-seal-headers" });
        try {
          const result = await sealSubscriptionHeadersForAll(await createCommandContext(config, log, sql, db.embedded !== undefined));
          process.stdout.write(`hookledger: sealed the custom headers of ${result.subscriptions} subscription(s) in ${result.organizations} tenant(s)\n`);
          if (result.unopened > 0) {
            process.stdout.write(`hookledger: ${result.unopened} value(s) were left as they are: a value of their subscription does not open (its key is not in the keyring, or it was altered); see reencrypt --dry-run\n`);
            process.exitCode = 1;
          }
        } finally {
          await sql.end({ timeout: 5 });
          await db.embedded?.stop();
        }
      });
    case "reencrypt": {
      const dryRun = rest.includes("--dry-run");
      const unknown = rest.find((arg) => arg !== "--dry-run");
      if (unknown !== undefined) fail(`reencrypt takes only --dry-run, not ${JSON.stringify(unknown)}`, 2);
      return withDatabase(config, log, async (db) => {
        const sql = connect(db.serviceUrl, { max: 2, applicationName: "hookledger-reencrypt" });
        try {
          const { lines, ok } = describeReencryption(await reencryptAll(await createCommandContext(config, log, sql, db.embedded !== undefined), { dryRun }));
          process.stdout.write(`${lines.join("\n")}\n`);
          if (!ok) process.exitCode = 1;
        } finally {
          await sql.end({ timeout: 5 });
          await db.embedded?.stop();
        }
      });
    }
    case "admin-token":
      return withDatabase(config, log, async (db) => {
        const sql = connect(db.serviceUrl, { max: 2, applicationName: "hookledger-admin" });
        try {
          const token = await createInstanceAdminToken(await createCommandContext(config, log, sql, db.embedded !== undefined));
          process.stdout.write(`hookledger: new instance admin token (shown once):\n  ${token}\n`);
        } finally {
          await sql.end({ timeout: 5 });
          await db.embedded?.stop();
        }
      });
    default:
      fail(`unknown command "${command}"; run with --help to list commands`, 2);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  fail(error instanceof Error ? error.message.split("\n")[0] ?? "start-up failed" : "start-up failed", 1);
});
