/**
 * Runs a function in a transaction whose tenant is set, so row-level security scopes every statement in it.
 *
 * Why `set_config(…, true)`: the setting is transaction-local and vanishes at commit or rollback, so a pooled
 * connection never carries one request's tenant into the next. A query that forgets `withTenant` sees zero rows.
 */
import type { Sql, Tx } from "./connect.ts";

/** Tenant of instance-level entries (organization creation is recorded in the new organization's own tenant). */
export const SYSTEM_ORG_ID = "00000000-0000-0000-0000-000000000000";

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * @example
 * const apps = await withTenant(sql, orgId, (tx) => tx`select * from hookledger.applications`);
 */
export async function withTenant<T>(sql: Sql, orgId: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
  if (!uuidPattern.test(orgId)) throw new TypeError("withTenant: organization id must be a UUID");
  const result = await sql.begin(async (tx) => {
    // Sent, not awaited, before fn's first statement: postgres.js runs a transaction's statements in the order they
    // are sent, so the setting is in place for them without costing a round trip of its own.
    const [, value] = await Promise.all([tx`select set_config('hookledger.org_id', ${orgId}, true)`.execute(), fn(tx)]);
    return value;
  });
  return result as T;
}
