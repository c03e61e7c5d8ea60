/**
 * "The database cannot be reached right now", told apart from every other error in one place.
 *
 * postgres.js opens connections per query, so a request made after Postgres comes back simply works; until then
 * callers should hear 503 with Retry-After instead of 500 `internal`. What counts as unreachable:
 * - socket errors while connecting or talking (ECONNREFUSED while the server is down, ECONNRESET, …);
 * - postgres.js's own connection errors (CONNECTION_CLOSED, CONNECTION_ENDED, CONNECTION_DESTROYED,
 *   CONNECT_TIMEOUT);
 * - server answers that mean "not now": SQLSTATE class 08 (connection exception), 57P01 admin_shutdown, 57P02
 *   crash_shutdown, 57P03 cannot_connect_now (starting up or in recovery) and 53300 too_many_connections.
 */

const connectionErrorCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "57P01",
  "57P02",
  "57P03",
  "53300",
]);

/** Seconds a client is asked to wait before retrying while the database is unreachable. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/**
 * @example
 * try { await sql`select 1`; } catch (error) { if (isDatabaseUnavailable(error)) answer503(); else throw error; }
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (typeof error !== "object" || error === null || depth > 4) return false;
  const { code, cause, errors } = error as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === "string" && (connectionErrorCodes.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  // Happy-eyeballs connects fail with an AggregateError; wrappers keep the original as `cause`.
  if (Array.isArray(errors) && errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))) return true;
  return isDatabaseUnavailable(cause, depth + 1);
}
