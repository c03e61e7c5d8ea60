/**
 * Starting and stopping hookledger: resolve the database (embedded or DATABASE_URL), prepare it, then run the
 * API, the worker, or both. Used by main.ts and by the test harness, so tests boot the real thing.
 */
import path from "node:path";
import { checkSentryDsn, type Config } from "./config.ts";
import type { AppContext } from "./context.ts";
import { connect, describeUrl, serviceUrlFor, type Sql } from "./db/connect.ts";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "./db/embedded.ts";
import { listMigrations, DEFAULT_MIGRATIONS_DIR } from "./db/migrate.ts";
import { prepareDatabase } from "./compose/database.ts";
import { composeApp } from "./compose/app.ts";
import { createApiCaches } from "./compose/caches.ts";
import type { HttpServer, TlsServeOptions } from "./http/serve/index.ts";
import { listenerPlans, type Door } from "./http/listenerSettings.ts";
import { loadListenerTls, openListeners, type OpenListener } from "./http/listeners.ts";
import { applicationDeletionHooks } from "./compose/lifecycle.ts";
import { composeLedger } from "./compose/ledger.ts";
import type { Logger } from "./log.ts";
import { startWorker, type WorkerHandle } from "./worker/runner.ts";
import { createSecretResolver, resolveSetting, type SecretResolver } from "./secrets/references.ts";
import { vaultReaderFromSettings } from "./secrets/vaultSettings.ts";
import { loadKeyring } from "./keyringSource.ts";
import type { Keyring } from "./crypto/keyring.ts";
import { createEgressClient, type EgressClient } from "./egress/client.ts";
import { egressPolicyFromSettings } from "./egress/settings.ts";
import { createMetrics } from "./observability/metrics.ts";
import { createSentryReporter, noErrorReporter, type ErrorReporter } from "./observability/errorReporter.ts";
import { startTelemetry, type Telemetry } from "./observability/telemetry.ts";
import { noTracing, type Tracing } from "./observability/tracing.ts";
import { ensureInstanceAdminToken } from "./tenancy/tokens.ts";
import { ConfiguredAdminToken } from "./tenancy/configuredAdminToken.ts";
import { TokenUsageTracker } from "./tenancy/tokenUsage.ts";
import { buildTaskList, crontab } from "./worker/tasks.ts";
import { settleHandedOverSends } from "./outbound/attempt.ts";

export interface ResolvedDatabase {
  ownerUrl: string;
  serviceUrl: string;
  /** For the start-up line: where the data is, without credentials. */
  description: string;
  embedded?: EmbeddedDatabase;
}

export async function resolveDatabase(config: Config, log: Logger): Promise<ResolvedDatabase> {
  let ownerUrl = config.DATABASE_URL;
  let embedded: EmbeddedDatabase | undefined;
  let description: string;
  if (ownerUrl === undefined) {
    const dataDir = path.join(config.HOOKLEDGER_DATA_DIR, "pg");
    embedded = await startEmbeddedPostgres({ dataDir, port: config.HOOKLEDGER_EMBEDDED_PG_PORT });
    ownerUrl = embedded.url;
    const shared = embedded.sharedWith === undefined ? "" : ` (started by process ${embedded.sharedWith}, left running)`;
    description = `embedded Postgres in ${dataDir} on 127.0.0.1:${embedded.port}${shared}`;
  } else {
    description = `Postgres at ${describeUrl(ownerUrl)}`;
  }
  return {
    ownerUrl,
    serviceUrl: config.HOOKLEDGER_SERVICE_DATABASE_URL ?? serviceUrlFor(ownerUrl),
    description,
    embedded,
  };
}

export function createContext(
  config: Config,
  log: Logger,
  sql: Sql,
  options: { keyring: Keyring; secrets: SecretResolver; now?: () => Date; egress?: EgressClient; errors?: ErrorReporter; tracing?: Tracing },
): AppContext {
  return {
    config,
    log,
    sql,
    secrets: options.secrets,
    ledger: composeLedger(),
    applicationDeletionHooks,
    egress: options.egress ?? createEgressClient(egressPolicyFromSettings(config)),
    keyring: options.keyring,
    metrics: createMetrics(sql),
    errors: options.errors ?? noErrorReporter,
    tracing: options.tracing ?? noTracing,
    now: options.now ?? (() => new Date()),
  };
}

/**
 * The resolver for secret references in settings and in the API: environment, files, and Vault when
 * HOOKLEDGER_VAULT_ADDR is set. A Vault configuration that does not fit together stops start-up here.
 *
 * @example
 * const resolve = await secretResolverFromConfig(loadConfig(process.env));
 * await resolve("vault:secret/data/hookledger#admin_token"); // "…"
 */
export async function secretResolverFromConfig(config: Config): Promise<SecretResolver> {
  // A route secret added through the API is read from Vault inside that request; a read outlasting the request
  // would be answered 503 while the command still completes behind it.
  if (config.HOOKLEDGER_VAULT_ADDR && config.HOOKLEDGER_VAULT_TIMEOUT >= config.HOOKLEDGER_REQUEST_TIMEOUT_MS) {
    throw new Error(`HOOKLEDGER_VAULT_TIMEOUT: must be shorter than HOOKLEDGER_REQUEST_TIMEOUT_MS (${config.HOOKLEDGER_REQUEST_TIMEOUT_MS} ms)`);
  }
  return createSecretResolver({ devMode: config.HOOKLEDGER_DEV_MODE, vault: await vaultReaderFromSettings(config) });
}

/**
 * A context for one-off commands (rebuild-projection, admin-token): the service's secrets and keyring.
 *
 * @example
 * const token = await createInstanceAdminToken(await createCommandContext(config, log, sql, false));
 */
export async function createCommandContext(config: Config, log: Logger, sql: Sql, embedded: boolean): Promise<AppContext> {
  const secrets = await secretResolverFromConfig(config);
  return createContext(config, log, sql, { keyring: await loadKeyring(config, embedded, secrets), secrets });
}

export interface Running {
  ctx: AppContext;
  /** The main listener (HOOKLEDGER_HOST/PORT). */
  server?: HttpServer;
  /** Every listener opened, main first, for the start-up line. */
  listeners: OpenListener[];
  worker?: WorkerHandle;
  /** Method and path of every HTTP route (for the API description and route-coverage tests). */
  routes: { method: string; path: string }[];
  /** Set on the first start of a new installation: the instance admin token, to print once. */
  newInstanceAdminToken?: string;
  stop(): Promise<void>;
}

/** Starts the API and/or the worker against an already prepared database. */
export async function startServices(options: {
  config: Config;
  log: Logger;
  database: ResolvedDatabase;
  api: boolean;
  worker: boolean;
  now?: () => Date;
  /** Tests inject a client with a loopback-only resolver; everything else uses the configured policy. */
  egress?: EgressClient;
}): Promise<Running> {
  const { config, log, database } = options;
  // References first (a vault: one is a network call): an unresolvable one stops start-up before anything opens.
  const secrets = await secretResolverFromConfig(config);
  const keyring = await loadKeyring(config, database.embedded !== undefined, secrets);
  const setting = async (name: "HOOKLEDGER_SENTRY_DSN" | "HOOKLEDGER_ADMIN_TOKEN" | "HOOKLEDGER_METRICS_TOKEN") => {
    const reference = config[name];
    return reference === undefined ? undefined : resolveSetting(secrets, name, reference);
  };
  const sentryDsn = await setting("HOOKLEDGER_SENTRY_DSN");
  if (sentryDsn !== undefined) checkSentryDsn(sentryDsn);
  const configuredAdminToken = options.api ? await setting("HOOKLEDGER_ADMIN_TOKEN") : undefined;
  if (configuredAdminToken !== undefined && configuredAdminToken.length < 32) throw new Error("HOOKLEDGER_ADMIN_TOKEN: the token must be at least 32 characters");
  const metricsToken = options.api ? await setting("HOOKLEDGER_METRICS_TOKEN") : undefined;
  // Listener TLS material is read and checked before anything opens: a bad file stops start-up naming its setting.
  const plans = options.api ? listenerPlans(config) : [];
  if (typeof plans === "string") throw new Error(plans);
  const listenerTls = new Map<Door, TlsServeOptions>();
  for (const plan of plans) {
    const tls = await loadListenerTls(plan, secrets);
    if (tls) listenerTls.set(plan.door, tls);
  }
  const errors = sentryDsn
    ? await createSentryReporter({
        dsn: sentryDsn,
        environment: config.HOOKLEDGER_SENTRY_ENVIRONMENT,
        tracesSampleRate: config.HOOKLEDGER_SENTRY_TRACES_SAMPLE_RATE,
      })
    : noErrorReporter;
  const telemetry: Telemetry = await startTelemetry(config, log);
  const sql = connect(database.serviceUrl, {
    max: config.HOOKLEDGER_DB_POOL_SIZE,
    applicationName: "hookledger",
    onNotice: (message) => log.debug("postgres notice", { message }),
  });
  const ctx = createContext(config, log, sql, {
    keyring,
    secrets,
    now: options.now,
    egress: options.egress,
    errors,
    tracing: telemetry.tracing,
  });
  telemetry.exportMetrics(ctx.metrics.registry);
  let worker: WorkerHandle | undefined;
  let listeners: OpenListener[] = [];
  const tokenUsage = new TokenUsageTracker(sql, log);
  const caches = createApiCaches(sql, { url: database.serviceUrl, log });
  let adminToken: string | undefined;
  let routes: { method: string; path: string }[] = [];
  try {
    if (options.worker) {
      worker = await startWorker({
        ownerUrl: database.ownerUrl,
        concurrency: config.HOOKLEDGER_WORKER_CONCURRENCY,
        pollIntervalMs: config.HOOKLEDGER_WORKER_POLL_INTERVAL_MS,
        taskList: buildTaskList(ctx),
        crontab,
        heartbeatMs: config.HOOKLEDGER_WORKER_HEARTBEAT_MS,
        deadAfterMs: config.HOOKLEDGER_WORKER_DEAD_AFTER_MS,
        log,
      });
    }
    if (options.api) {
      adminToken = await ensureInstanceAdminToken(ctx, configuredAdminToken);
      if (configuredAdminToken !== undefined) caches.tokens.acceptConfigured(new ConfiguredAdminToken(configuredAdminToken));
      tokenUsage.start();
      await caches.start();
      const latestMigration = (await listMigrations(DEFAULT_MIGRATIONS_DIR)).at(-1)?.version ?? 0;
      const separateDoors = new Set<string>(plans.map((plan) => plan.door).filter((door) => door !== "main"));
      const app = composeApp({
        ctx,
        metricsToken,
        tokenUsage,
        caches,
        readiness: { expectedSchemaVersion: latestMigration, workerRunning: worker ? () => worker?.isRunning() ?? false : undefined },
        separateDoors: separateDoors.size > 0 ? separateDoors : undefined,
      });
      routes = app.routes.filter((route) => route.method !== "ALL").map((route) => ({ method: route.method, path: route.path }));
      listeners = await openListeners(plans, listenerTls, (door) =>
        door === "main" ? app.fetch : (request, connection) => app.fetch(request, { ...connection, listener: door }),
      );
    }
  } catch (error) {
    await tokenUsage.stop().catch(() => undefined);
    await caches.stop();
    await worker?.stop().catch(() => undefined);
    await telemetry.shutdown();
    await sql.end({ timeout: 5 });
    throw error;
  }
  return {
    ctx,
    server: listeners[0]?.server,
    listeners,
    worker,
    newInstanceAdminToken: adminToken,
    routes,
    async stop() {
      // Order matters: stop taking requests and let in-flight ones finish, then let running jobs finish,
      // then close the pool they both used.
      await Promise.all(listeners.map((listener) => listener.server.close()));
      await tokenUsage.stop();
      await caches.stop();
      await worker?.stop();
      // Sends that outlived their jobs (outbound/attempt.ts) end and are recorded before the pool closes.
      await settleHandedOverSends(ctx);
      await ctx.egress.close();
      await errors.flush();
      await telemetry.shutdown();
      await sql.end({ timeout: Math.ceil(config.HOOKLEDGER_SHUTDOWN_GRACE_MS / 1000) });
    },
  };
}

export { prepareDatabase };
