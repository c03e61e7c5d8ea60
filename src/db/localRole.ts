/**
 * Runs a function as another role for one transaction (`SET LOCAL ROLE`), the only ways the service reads across
 * tenants. Policies grant each role exactly what its job needs:
 * - `hookledger_admin`: instance administration (listing organizations, retention); it cannot write the ledger;
 *   callers record their own audited entries in the affected tenant with withTenant;
 * - `hookledger_authenticator`: finding a token or an ingress route before the tenant is known, a few columns only.
 */
import type { Sql, Tx } from "./connect.ts";

type LocalRole = "hookledger_admin" | "hookledger_authenticator";

async function withLocalRole<T>(sql: Sql, role: LocalRole, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const result = await sql.begin(async (tx) => {
    await tx.unsafe(`set local role ${role}`);
    return fn(tx);
  });
  return result as T;
}

export const withInstanceAdmin = <T>(sql: Sql, fn: (tx: Tx) => Promise<T>): Promise<T> => withLocalRole(sql, "hookledger_admin", fn);

export const withAuthenticator = <T>(sql: Sql, fn: (tx: Tx) => Promise<T>): Promise<T> => withLocalRole(sql, "hookledger_authenticator", fn);
