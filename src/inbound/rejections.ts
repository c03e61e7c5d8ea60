/**
 * Counters of refused requests per route and reason. Not ledger entries: anyone on the internet can send
 * forged requests, and each one costing an append would let them grow the ledger at will. Counted together:
 * refusals of one organization arriving while its last count is being written are added up and written by the
 * next one, one upsert per route and reason, never inside a transaction that waits on anything. One upsert per
 * refusal made a flood of forged requests at one tenant's route a write each (316/s took another tenant's valid
 * webhooks from p50 13 ms to 174 ms; sweep 17); now it is a write per flush, on one connection per organization.
 */
import type { Queryable, Sql } from "../db/connect.ts";
import { GroupCommit, type ItemOutcome } from "../db/groupCommit.ts";
import { withTenant } from "../db/tenant.ts";

export type RejectionReason =
  | "missing_header"
  | "malformed"
  | "timestamp_out_of_tolerance"
  | "no_valid_secret"
  | "signature_mismatch"
  | "misconfigured"
  | "replayed"
  | "basic_auth_failed"
  | "forward_denied"
  | "forward_unavailable"
  | "too_large";

export interface RejectionCounts {
  total: number;
  by_reason: Partial<Record<RejectionReason, number>>;
  last_rejected_at: Date | null;
}

export interface Rejection {
  routeId: string;
  reason: RejectionReason;
  at: Date;
}

/** Adds one organization's refusals to their counters: one row per route and reason, in one statement. */
async function countRejections(sql: Sql, orgId: string, rejections: Rejection[]): Promise<ItemOutcome<true>[]> {
  const counters = new Map<string, { routeId: string; reason: RejectionReason; n: number; at: Date }>();
  for (const { routeId, reason, at } of rejections) {
    const key = `${routeId} ${reason}`;
    const counter = counters.get(key);
    if (!counter) counters.set(key, { routeId, reason, n: 1, at });
    else {
      counter.n += 1;
      if (at > counter.at) counter.at = at;
    }
  }
  const rows = [...counters.values()];
  await withTenant(sql, orgId, (tx) => tx`
    insert into hookledger.ingress_rejections as r (org_id, route_id, reason, count, last_rejected_at)
    select hookledger.current_org_id(), x.route_id, x.reason, x.n, x.at
    from unnest(${rows.map((row) => row.routeId)}::text[], ${rows.map((row) => row.reason)}::text[], ${rows.map((row) => row.n)}::bigint[], ${rows.map((row) => row.at.toISOString())}::timestamptz[]) as x(route_id, reason, n, at)
    on conflict (org_id, route_id, reason) do update set count = r.count + excluded.count, last_rejected_at = greatest(r.last_rejected_at, excluded.last_rejected_at)`);
  return rejections.map(() => ({ ok: true, value: true }));
}

/**
 * Counts refusals, written together per organization (see above); each call resolves once its refusal is counted.
 *
 * @example
 * const rejections = rejectionCounter(ctx.sql);
 * await rejections.count(orgId, { routeId, reason: "signature_mismatch", at: now });
 */
export function rejectionCounter(sql: Sql): { count(orgId: string, rejection: Rejection): Promise<unknown> } {
  const commits = new GroupCommit<Rejection, true>((orgId, rejections) => countRejections(sql, orgId, rejections), { maxBatch: 1024, maxConcurrentFlushes: 1 });
  return { count: (orgId, rejection) => commits.submit(orgId, rejection) };
}

export async function rejectionCounts(tx: Queryable, routeIds: string[]): Promise<Map<string, RejectionCounts>> {
  const counts = new Map<string, RejectionCounts>(routeIds.map((id) => [id, { total: 0, by_reason: {}, last_rejected_at: null }]));
  if (routeIds.length === 0) return counts;
  const rows = await tx<{ route_id: string; reason: RejectionReason; count: string; last_rejected_at: Date }[]>`
    select route_id, reason, count, last_rejected_at from hookledger.ingress_rejections
    where org_id = hookledger.current_org_id() and route_id in ${tx(routeIds)}`;
  for (const row of rows) {
    const entry = counts.get(row.route_id);
    if (!entry) continue;
    entry.by_reason[row.reason] = Number(row.count);
    entry.total += Number(row.count);
    if (!entry.last_rejected_at || row.last_rejected_at > entry.last_rejected_at) entry.last_rejected_at = row.last_rejected_at;
  }
  return counts;
}
