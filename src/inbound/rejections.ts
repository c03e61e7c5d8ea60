/**
 * Counters of refused requests per route and reason. Not ledger entries: anyone on the internet can send
 * forged requests, and each one costing an append would let them grow the ledger at will. One upsert per refusal
 * in its own short transaction, never inside a transaction that waits on anything.
 */
import type { Queryable, Sql } from "../db/connect.ts";
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

export async function countRejection(sql: Sql, orgId: string, routeId: string, reason: RejectionReason, at: Date): Promise<void> {
  await withTenant(sql, orgId, (tx) => tx`
    insert into hookledger.ingress_rejections as r (org_id, route_id, reason, count, last_rejected_at)
    values (hookledger.current_org_id(), ${routeId}, ${reason}, 1, ${at})
    on conflict (org_id, route_id, reason) do update set count = r.count + 1, last_rejected_at = greatest(r.last_rejected_at, excluded.last_rejected_at)`);
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
