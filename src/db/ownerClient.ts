/**
 * The owner role's connection as owner-only maintenance (partitions, retention) needs it. Two clients reach it:
 * graphile-worker hands tasks a `pg` client, and start-up holds a postgres.js pool; both fit this interface.
 */
import type { Queryable } from "./connect.ts";

export interface OwnerClient {
  query<R extends Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/** A postgres.js pool or transaction as an OwnerClient. */
export function ownerClientOf(sql: Queryable): OwnerClient {
  return {
    query: async <R extends Record<string, unknown>>(text: string, values: unknown[] = []) => ({
      rows: (await sql.unsafe(text, values as never[])) as unknown as R[],
    }),
  };
}
