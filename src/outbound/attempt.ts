/**
 * One delivery attempt, in three steps so that no transaction or pooled connection is held during the HTTP call:
 *   1. load the delivery, event, subscription and secrets (short transaction);
 *   2. sign and send through the egress client (no database);
 *   3. record `delivery.attempted` — and the next retry's job, or `delivery.failed` when the attempts are
 *      exhausted, and `subscription.auto_disabled` when the endpoint has failed long enough (short transaction).
 * Step 3 appends at the delivery stream version read in step 1, so a duplicate run of the same job (at-least-once)
 * cannot record a second outcome for the same attempt.
 */
import { randomUUID } from "node:crypto";
import type { AppContext } from "../context.ts";
import type { Tx } from "../db/connect.ts";
import { withTenant } from "../db/tenant.ts";
import { ANY_VERSION } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { StreamVersionConflictError } from "../ledger/errors.ts";
import type { NewEntry } from "../ledger/catalogue.ts";
import { buildDeliveryRequest } from "./deliveryRequest.ts";
import { getDelivery, getEvent, type AttemptRow } from "./deliveryStore.ts";
import { enqueueDeliveries } from "./jobs.ts";
import { nextAttemptAt, type RetryPolicy } from "./retryPolicy.ts";
import { signingSecrets } from "./subscriptionSecrets.ts";
import { getSubscription, type SubscriptionRow } from "./subscriptionStore.ts";
import { deliveryStream } from "./appends.ts";
import { cancelOpenDeliveries, subscriptionStream } from "./subscriptions.ts";

const WORKER_META: EntryMeta = { actor: { kind: "worker" } };

export type AttemptOutcome =
  | { kind: "skipped"; reason: string }
  | { kind: "attempted"; attempt: Omit<AttemptRow, "attempted_at"> & { attempted_at?: Date } };

function retryPolicyFor(ctx: AppContext, subscription: SubscriptionRow): RetryPolicy {
  return {
    scheduleSeconds: subscription.retry_schedule ?? ctx.config.HOOKLEDGER_RETRY_SCHEDULE,
    maxAttempts: subscription.max_attempts,
    jitterPercent: ctx.config.HOOKLEDGER_RETRY_JITTER_PERCENT,
    retryAfterMaxSeconds: ctx.config.HOOKLEDGER_RETRY_AFTER_MAX_SECONDS,
    minDelayMs: ctx.config.HOOKLEDGER_MIN_RETRY_DELAY_MS,
  };
}

/** Step 1. */
async function loadAttempt(ctx: AppContext, orgId: string, deliveryId: string) {
  return withTenant(ctx.sql, orgId, async (tx) => {
    const delivery = await getDelivery(tx, deliveryId);
    if (!delivery || (delivery.status !== "pending" && delivery.status !== "retrying")) return { skip: `delivery is ${delivery?.status ?? "missing"}` } as const;
    const subscription = await getSubscription(tx, delivery.subscription_id);
    if (!subscription || !subscription.enabled) {
      const reason = subscription ? "subscription disabled" : "subscription deleted";
      await ctx.ledger.record(tx, deliveryStream(deliveryId), ANY_VERSION, [{ type: "delivery.cancelled", data: { delivery_id: deliveryId, reason }, meta: WORKER_META }]);
      return { skip: reason } as const;
    }
    const event = await getEvent(tx, delivery.event_id);
    if (!event) return { skip: "event missing" } as const;
    const secrets = await signingSecrets(tx, ctx.keyring, subscription.subscription_id, ctx.now());
    const [stream] = await tx<{ version: number }[]>`
      select version from hookledger.ledger_streams where org_id = hookledger.current_org_id() and stream = ${deliveryStream(deliveryId)}`;
    return { delivery, subscription, event, secrets: secrets.map((s) => s.secret), version: stream?.version ?? 0 } as const;
  });
}

/**
 * Makes one attempt of a delivery. `retry: false` (subscription tests) records the outcome without scheduling
 * another try.
 */
export async function attemptDelivery(ctx: AppContext, orgId: string, deliveryId: string, options: { retry: boolean } = { retry: true }): Promise<AttemptOutcome> {
  const loaded = await loadAttempt(ctx, orgId, deliveryId);
  if ("skip" in loaded) return { kind: "skipped", reason: loaded.skip ?? "" };
  const { delivery, subscription, event, secrets, version } = loaded;
  const attemptNumber = delivery.attempts + 1;
  const request = buildDeliveryRequest({ event, subscription, deliveryId, attemptNumber, secrets, now: ctx.now() });

  const result = await ctx.egress.send({ url: request.url, method: "POST", headers: request.headers, body: request.body, timeoutMs: subscription.timeout_ms });

  const now = ctx.now();
  const succeeded = result.ok && result.status >= 200 && result.status < 300;
  const statusCode = result.ok ? result.status : null;
  const next = succeeded || !options.retry
    ? undefined
    : nextAttemptAt(retryPolicyFor(ctx, subscription), attemptNumber, now, { statusCode, retryAfter: result.ok ? result.headers["retry-after"] : undefined });
  const excerptLimit = ctx.config.HOOKLEDGER_RESPONSE_EXCERPT_BYTES;
  const attempt = {
    attempt_id: randomUUID(),
    delivery_id: deliveryId,
    event_id: event.event_id,
    subscription_id: subscription.subscription_id,
    attempt_number: attemptNumber,
    outcome: succeeded ? ("succeeded" as const) : ("failed" as const),
    status_code: statusCode,
    error_class: result.ok ? (succeeded ? null : ("http_status" as const)) : result.errorClass,
    error_message: result.ok ? (succeeded ? null : `endpoint answered ${result.status}`) : result.message,
    duration_ms: Math.round(result.durationMs),
    response_headers: result.ok ? result.headers : {},
    response_excerpt: result.ok ? Buffer.from(result.bodyExcerpt).subarray(0, excerptLimit).toString("utf8") : null,
    next_attempt_at: next ?? null,
  };

  const entries: NewEntry[] = [{ type: "delivery.attempted", data: { ...attempt, next_attempt_at: next?.toISOString() ?? null }, meta: WORKER_META }];
  if (!succeeded && !next) entries.push({ type: "delivery.failed", data: { delivery_id: deliveryId, attempts: attemptNumber }, meta: WORKER_META });
  try {
    await withTenant(ctx.sql, orgId, async (tx) => {
      await ctx.ledger.record(tx, deliveryStream(deliveryId), version, entries);
      if (next) await enqueueDeliveries(tx, orgId, [{ deliveryId, runAt: next }]);
      if (!succeeded) await autoDisableIfUnhealthy(ctx, tx, subscription.subscription_id, now);
    });
  } catch (error) {
    if (error instanceof StreamVersionConflictError) return { kind: "skipped", reason: "another worker recorded this attempt" };
    throw error;
  }
  ctx.metrics.attempts.inc({ outcome: attempt.outcome, error_class: attempt.error_class ?? "none" });
  ctx.metrics.attemptDuration.observe({ outcome: attempt.outcome }, attempt.duration_ms / 1000);
  if (next) ctx.metrics.retriesScheduled.inc();
  else if (!succeeded) ctx.metrics.deliveriesFailed.inc();
  return { kind: "attempted", attempt: { ...attempt, attempted_at: now } };
}

/** Auto-disables a subscription after N consecutive failed attempts spanning at least T (both configurable). */
async function autoDisableIfUnhealthy(ctx: AppContext, tx: Tx, subscriptionId: string, now: Date): Promise<void> {
  const threshold = ctx.config.HOOKLEDGER_AUTO_DISABLE_FAILURES;
  if (threshold === 0) return;
  const subscription = await getSubscription(tx, subscriptionId);
  if (!subscription?.enabled || !subscription.failing_since) return;
  const failingForMs = now.getTime() - subscription.failing_since.getTime();
  if (subscription.consecutive_failures < threshold || failingForMs < ctx.config.HOOKLEDGER_AUTO_DISABLE_PERIOD_SECONDS * 1000) return;
  await ctx.ledger.record(tx, subscriptionStream(subscriptionId), ANY_VERSION, [
    {
      type: "subscription.auto_disabled",
      data: { subscription_id: subscriptionId, consecutive_failures: subscription.consecutive_failures, failing_since: subscription.failing_since.toISOString() },
      meta: WORKER_META,
    },
  ]);
  await cancelOpenDeliveries(ctx, tx, subscriptionId, "subscription auto-disabled", WORKER_META);
  ctx.metrics.autoDisabled.inc();
  ctx.log.warn("subscription auto-disabled", { subscription_id: subscriptionId, consecutive_failures: subscription.consecutive_failures });
}

