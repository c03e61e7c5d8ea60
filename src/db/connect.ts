/**
 * postgres.js clients for the two roles hookledger uses.
 *
 * - The owner role (the `DATABASE_URL` user) runs migrations and owns every object, including graphile-worker's
 *   schema. It is used only by the migrator, partition maintenance and the worker runner's `pg` pool.
 * - The service role (`hookledger_app`) serves requests and runs task SQL. It owns nothing and has no BYPASSRLS,
 *   so row-level security applies to every query it makes.
 *
 * Unless `HOOKLEDGER_SERVICE_DATABASE_URL` is set, the service role's password is derived from the owner's with
 * HMAC-SHA256. Derivation (rather than a random value stored somewhere) means every process sharing a database —
 * API nodes, worker nodes, parallel test files on one cluster — agrees on it without coordination.
 */
import { createHmac } from "node:crypto";
import postgres from "postgres";

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;
/** Either a pool or a transaction: for functions that only run statements. */
export type Queryable = Sql | Tx;

export const SERVICE_ROLE = "hookledger_app";
export const AUDITOR_ROLE = "hookledger_auditor";

export function deriveServicePassword(ownerUrl: string): string | undefined {
  const ownerPassword = decodeURIComponent(new URL(ownerUrl).password);
  if (ownerPassword === "") return undefined;
  return createHmac("sha256", ownerPassword).update("hookledger service role v1").digest("base64url");
}

/** The service role's URL: same host and database as the owner's, different credentials. */
export function serviceUrlFor(ownerUrl: string): string {
  const url = new URL(ownerUrl);
  url.username = SERVICE_ROLE;
  url.password = deriveServicePassword(ownerUrl) ?? "";
  return url.toString();
}

/** Same server, another database (tests create one per file). */
export function withDatabase(url: string, database: string): string {
  const next = new URL(url);
  next.pathname = `/${encodeURIComponent(database)}`;
  return next.toString();
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, "")) || "postgres";
}

/** Host, port and database of a URL without its credentials, for the start-up line. */
export function describeUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || "5432"}/${databaseName(url)}`;
}

/**
 * Seconds a connection that closed waits before it reconnects (for a query waiting for it), by how many
 * connections of the pool closed with an error since one last connected: 25-50 ms at first, doubling, at most 1 s.
 *
 * Why not postgres.js's own (3^n / 100 s, up to 20 s): the count is shared by the whole pool, so when Postgres
 * ends every connection at once (a restart, a failover, `pg_terminate_backend` for all), ten connections reset by
 * the server drive it to 10 and the next reconnection waits 10-20 s, while requests wait for it past any client's
 * timeout (test/db/backendsTerminated.test.ts saw one in about three runs under load). One second bounds that
 * wait; a database that stays down is then tried about once a second per connection, each attempt refused at once.
 *
 * @example
 * reconnectDelaySeconds(0); // 0.025-0.05
 * reconnectDelaySeconds(10); // 0.5-1
 */
export function reconnectDelaySeconds(errorCloses: number): number {
  return (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** errorCloses, 1);
}

export function connect(url: string, options: { max: number; applicationName: string; onNotice?: (message: string) => void }): Sql {
  return postgres(url, {
    max: options.max,
    idle_timeout: 30,
    connect_timeout: 10,
    backoff: reconnectDelaySeconds,
    onnotice: (notice) => options.onNotice?.(String(notice.message)),
    connection: { application_name: options.applicationName },
  });
}
