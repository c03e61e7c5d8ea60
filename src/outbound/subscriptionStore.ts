/** Reads of the subscriptions projection. */
import type { Queryable } from "../db/connect.ts";

export interface SubscriptionRow {
  subscription_id: string;
  app_id: string;
  url: string;
  event_types: string[];
  labels: Record<string, string>;
  /** Events of at least one of these channels only; null = events whatever their channels (sql/091). */
  channels: string[] | null;
  /** Custom headers in clear (sealedHeaders.ts): credential-like values are in sealed_headers, except on rows written before sql/087. */
  headers: Record<string, string>;
  /** Custom headers of credential-like names, sealed under the keyring; opened by the delivery path only. */
  sealed_headers: Record<string, string>;
  description: string | null;
  metadata: Record<string, string>;
  enabled: boolean;
  disabled_reason: string | null;
  signature_scheme: "standard-webhooks" | "hookledger-v1";
  signed_headers: string[];
  retry_schedule: number[] | null;
  max_attempts: number;
  timeout_ms: number;
  consecutive_failures: number;
  failing_since: Date | null;
  last_success_at: Date | null;
  last_failure_at: Date | null;
  auto_disabled_at: Date | null;
  max_concurrency: number | null;
  rate_limit_per_second: number | null;
  send_traceparent: boolean;
  circuit_state: "closed" | "open";
  circuit_opened_at: Date | null;
  circuit_retry_at: Date | null;
  circuit_opens: number;
  created_at: Date;
  updated_at: Date;
}

export const subscriptionColumns = `subscription_id, app_id, url, event_types, labels, channels, headers, sealed_headers, description, metadata, enabled, disabled_reason,
  signature_scheme, signed_headers, retry_schedule, max_attempts, timeout_ms, consecutive_failures, failing_since,
  last_success_at, last_failure_at, auto_disabled_at, max_concurrency, rate_limit_per_second, send_traceparent, circuit_state, circuit_opened_at,
  circuit_retry_at, circuit_opens, created_at, updated_at`;

export async function getSubscription(tx: Queryable, subscriptionId: string): Promise<SubscriptionRow | undefined> {
  const [row] = await tx<SubscriptionRow[]>`
    select ${tx.unsafe(subscriptionColumns)} from hookledger.subscriptions
    where org_id = hookledger.current_org_id() and subscription_id = ${subscriptionId} and deleted_at is null`;
  return row;
}

/**
 * A live subscription, read and locked in one statement until the transaction ends. Every command that decides on
 * a subscription's state and then appends to its stream reads it with this: concurrent commands are then decided
 * one after another, and one that waited for a delete finds the subscription gone (the lock re-reads the row), so
 * twenty DELETEs record one `subscription.deleted`, and a PATCH that lost to a DELETE records nothing.
 * Lock order: an application's row before its subscriptions' (deleteApplication takes them in that order).
 */
export async function getSubscriptionForChange(tx: Queryable, subscriptionId: string): Promise<SubscriptionRow | undefined> {
  const [row] = await tx<SubscriptionRow[]>`
    select ${tx.unsafe(subscriptionColumns)} from hookledger.subscriptions
    where org_id = hookledger.current_org_id() and subscription_id = ${subscriptionId} and deleted_at is null
    for no key update`;
  return row;
}

export async function listSubscriptions(
  tx: Queryable,
  options: { limit: number; appId?: string | null; after?: { createdAt: string; id: string }; enabled?: boolean },
): Promise<SubscriptionRow[]> {
  return tx<SubscriptionRow[]>`
    select ${tx.unsafe(subscriptionColumns)} from hookledger.subscriptions
    where org_id = hookledger.current_org_id() and deleted_at is null
      ${options.appId ? tx`and app_id = ${options.appId}` : tx``}
      ${options.enabled !== undefined ? tx`and enabled = ${options.enabled}` : tx``}
      ${options.after ? tx`and (created_at, subscription_id) < (${options.after.createdAt}::timestamptz, ${options.after.id}::uuid)` : tx``}
    order by created_at desc, subscription_id desc limit ${options.limit + 1}`;
}

/** Enabled subscriptions of an application: the fan-out candidates. */
export async function enabledSubscriptionsOf(tx: Queryable, appId: string): Promise<Pick<SubscriptionRow, "subscription_id" | "event_types" | "labels" | "channels">[]> {
  return tx<Pick<SubscriptionRow, "subscription_id" | "event_types" | "labels" | "channels">[]>`
    select subscription_id, event_types, labels, channels from hookledger.subscriptions
    where org_id = hookledger.current_org_id() and app_id = ${appId} and enabled and deleted_at is null`;
}
