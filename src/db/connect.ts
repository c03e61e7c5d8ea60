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

export function connect(url: string, options: { max: number; applicationName: string; onNotice?: (message: string) => void }): Sql {
  return postgres(url, {
    max: options.max,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: (notice) => options.onNotice?.(String(notice.message)),
    connection: { application_name: options.applicationName },
  });
}
