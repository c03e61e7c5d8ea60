/**
 * Runs a function in a transaction whose tenant is set, so row-level security scopes every statement in it.
 *
 * Why `set_config(…, true)`: the setting is transaction-local and vanishes at commit or rollback, so a pooled
 * connection never carries one request's tenant into the next. A query that forgets `withTenant` sees zero rows.
 */
import type { Sql, Tx } from "./connect.ts";
import { rolledBackByConcurrency } from "./rolledBackByConcurrency.ts";

/** Tenant of instance-level entries (organization creation is recorded in the new organization's own tenant). */
export const SYSTEM_ORG_ID = "00000000-0000-0000-0000-000000000000";

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Runs of a transaction Postgres undid for a concurrent one (rolledBackByConcurrency) before its error is thrown. */
const CONCURRENCY_RUNS = 3;

/**
 * A transaction Postgres undid because of a concurrent one — a deadlock it broke by failing this side, or a
 * serialization failure — is run again, up to CONCURRENCY_RUNS times in all, after a short random pause (the other
 * side has taken what it waited for by then): nothing of the undone run was written, and `fn` only works in the
 * database (no transaction is held across outbound HTTP), so running it again is what a client retrying would do.
 * Before, such a request was answered 503 and a worker's record of its sends failed its job, which sent them again.
 * `retryConcurrency: false` leaves the first error to the caller (tests of lock order).
 *
 * @example
 * const apps = await withTenant(sql, orgId, (tx) => tx`select * from hookledger.applications`);
 */
export async function withTenant<T>(sql: Sql, orgId: string, fn: (tx: Tx) => Promise<T>, options: { retryConcurrency?: boolean } = {}): Promise<T> {
  if (!uuidPattern.test(orgId)) throw new TypeError("withTenant: organization id must be a UUID");
  const runs = options.retryConcurrency === false ? 1 : CONCURRENCY_RUNS;
  for (let run = 1; ; run++) {
    try {
      const result = await sql.begin(async (tx) => {
        // Sent, not awaited, before fn's first statement: postgres.js runs a transaction's statements in the order
        // they are sent, so the setting is in place for them without costing a round trip of its own.
        const [, value] = await Promise.all([tx`select set_config('hookledger.org_id', ${orgId}, true)`.execute(), fn(tx)]);
        return value;
      });
      return result as T;
    } catch (error) {
      if (run >= runs || !rolledBackByConcurrency(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * run));
    }
  }
}
