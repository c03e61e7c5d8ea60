/**
 * Reads only the console needs (the overview's aggregates). Everything else it shows comes from the stores the
 * JSON API reads. Filters are plain-column comparisons on indexes that lead with org_id; an application-scoped
 * caller's reads are pinned to its application's subscriptions.
 */
import type { Queryable } from "../db/connect.ts";

export interface MinuteCount {
  minute: Date;
  succeeded: number;
  /** Failed or aborted (the receiver asked not to be sent the message again). */
  failed: number;
}

/** Attempts per minute by outcome since `since`, oldest first; minutes without attempts are absent. */
export async function attemptsPerMinute(tx: Queryable, appId: string | null, since: Date): Promise<MinuteCount[]> {
  return tx<MinuteCount[]>`
    select date_trunc('minute', attempted_at) as minute,
           count(*) filter (where outcome = 'succeeded')::int as succeeded,
           count(*) filter (where outcome <> 'succeeded')::int as failed
    from hookledger.delivery_attempts
    where org_id = hookledger.current_org_id() and attempted_at >= ${since}
      ${appId ? tx`and subscription_id in (select subscription_id from hookledger.subscriptions where org_id = hookledger.current_org_id() and app_id = ${appId})` : tx``}
    group by 1 order by 1`;
}

export interface FailingEndpoint {
  subscription_id: string;
  app_id: string;
  url: string;
  enabled: boolean;
  disabled_reason: string | null;
  consecutive_failures: number;
  failing_since: Date | null;
  last_success_at: Date | null;
  circuit_state: "closed" | "open";
}

/** Subscriptions failing now (failures since their last success, an open circuit, or disabled by health), worst first. */
export async function failingEndpoints(tx: Queryable, appId: string | null, limit: number): Promise<FailingEndpoint[]> {
  return tx<FailingEndpoint[]>`
    select subscription_id, app_id, url, enabled, disabled_reason, consecutive_failures, failing_since, last_success_at, circuit_state
    from hookledger.subscriptions
    where org_id = hookledger.current_org_id() and deleted_at is null
      and (consecutive_failures > 0 or circuit_state = 'open' or auto_disabled_at is not null)
      ${appId ? tx`and app_id = ${appId}` : tx``}
    order by consecutive_failures desc, subscription_id limit ${limit}`;
}

export interface OldestPending {
  delivery_id: string;
  event_id: string;
  subscription_id: string;
  status: string;
  created_at: Date;
  next_attempt_at: Date | null;
  pending: number;
}

/** The oldest delivery still waiting (pending or retrying), and how many wait. */
export async function oldestPending(tx: Queryable, appId: string | null): Promise<OldestPending | undefined> {
  const [row] = await tx<OldestPending[]>`
    select delivery_id, event_id, subscription_id, status, created_at, next_attempt_at, count(*) over ()::int as pending
    from hookledger.deliveries
    where org_id = hookledger.current_org_id() and status in ('pending', 'retrying')
      ${appId ? tx`and app_id = ${appId}` : tx``}
    order by created_at, delivery_id limit 1`;
  return row;
}

export async function subscriptionCounts(tx: Queryable, appId: string | null): Promise<{ app_id: string; n: number }[]> {
  return tx<{ app_id: string; n: number }[]>`
    select app_id, count(*)::int as n from hookledger.subscriptions
    where org_id = hookledger.current_org_id() and deleted_at is null ${appId ? tx`and app_id = ${appId}` : tx``}
    group by app_id`;
}

/** Accepted requests per ingress route (refusals are counted apart, see inbound/rejections.ts). */
export async function receiptCounts(tx: Queryable, routeIds: string[]): Promise<Map<string, { total: number; last: Date | null }>> {
  if (routeIds.length === 0) return new Map();
  const rows = await tx<{ route_id: string; total: number; last: Date | null }[]>`
    select route_id, count(*)::int as total, max(received_at) as last from hookledger.ingress_receipts
    where org_id = hookledger.current_org_id() and route_id in ${tx(routeIds)} group by route_id`;
  return new Map(rows.map((row) => [row.route_id, { total: row.total, last: row.last }]));
}
