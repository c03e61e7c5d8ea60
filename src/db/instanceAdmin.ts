/**
 * Runs a function as `hookledger_admin` for one transaction (`SET LOCAL ROLE`): the only way the service reads
 * across tenants. Policies grant that role exactly what instance administration needs, and it cannot write the
 * ledger; callers record their own audited entries in the affected tenant with withTenant.
 */
import type { Sql, Tx } from "./connect.ts";

export async function withInstanceAdmin<T>(sql: Sql, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const result = await sql.begin(async (tx) => {
    await tx`set local role hookledger_admin`;
    return fn(tx);
  });
  return result as T;
}
