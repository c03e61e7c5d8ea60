/**
 * Replay, retry and recover — all through the same mechanism as fan-out (new or re-opened deliveries plus their
 * jobs, in one transaction), each recorded with the actor who asked.
 *   replay:  an event again to every subscription that matches it now (a test send: to the subscription it tested),
 *            or to one chosen subscription (new deliveries)
 *   retry:   one failed/cancelled/retrying delivery, now (the same delivery, its next attempt number)
 *   recover: every failed or cancelled delivery of a subscription since a time
 *   replay-missing: every event of a window a subscription matches and never got, test sends to others aside (new deliveries)
 */
import type { AppContext } from "../context.ts";
import { withTenant } from "../db/tenant.ts";
import { ANY_VERSION } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { eventsWithoutDelivery, getDelivery, getDeliveryForChange, getEvent, recoverableDeliveries, testedSubscription, type DeliveryRow, type RecoverWindow } from "./deliveryStore.ts";
import { deliveriesScheduled, deliveryStream, eventReplayed } from "./appends.ts";
import { enqueueDeliveries } from "./jobs.ts";
import { matchesSubscription } from "./matching.ts";
import { enabledSubscriptionsOf, getSubscription, getSubscriptionForChange } from "./subscriptionStore.ts";

export type ReplayFailure = "event_not_found" | "subscription_not_found" | "subscription_disabled" | "subscription_other_application";

export class ReplayError extends Error {
  override readonly name = "ReplayError";
  constructor(readonly failure: ReplayFailure) {
    super(failure);
  }
}

export async function replayEvent(
  ctx: AppContext,
  orgId: string,
  eventId: string,
  subscriptionId: string | null,
  meta: EntryMeta,
): Promise<{ deliveryIds: string[] }> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    const event = await getEvent(tx, eventId);
    if (!event) throw new ReplayError("event_not_found");
    let targets: string[];
    if (subscriptionId) {
      const subscription = await getSubscription(tx, subscriptionId);
      if (!subscription) throw new ReplayError("subscription_not_found");
      if (subscription.app_id !== event.app_id) throw new ReplayError("subscription_other_application");
      if (!subscription.enabled) throw new ReplayError("subscription_disabled");
      targets = [subscriptionId];
    } else {
      // A test send goes again to the subscription it tested, if it is still enabled, as it went the first time:
      // it names that subscription, and another's filters (`*`) matching its type do not make it theirs.
      const tested = await testedSubscription(tx, eventId);
      targets = (await enabledSubscriptionsOf(tx, event.app_id))
        .filter((s) => (tested ? s.subscription_id === tested : matchesSubscription(s, { eventType: event.event_type, labels: event.labels, channels: event.channels })))
        .map((s) => s.subscription_id);
    }
    const scheduled = deliveriesScheduled({ eventId, appId: event.app_id }, targets, "replay", meta);
    await ctx.ledger.recordMany(tx, [
      eventReplayed({ event_id: eventId, subscription_id: subscriptionId, deliveries_scheduled: targets.length }, meta),
      ...scheduled.appends,
    ]);
    const deliveryIds = scheduled.deliveryIds;
    await enqueueDeliveries(tx, orgId, deliveryIds.map((deliveryId) => ({ deliveryId, attempt: 1 })), ctx.now());
    return { deliveryIds };
  });
}

export type RetryFailure = "delivery_not_found" | "already_succeeded" | "subscription_disabled" | "subscription_deleted" | "subscription_not_found";

export class RetryError extends Error {
  override readonly name = "RetryError";
  constructor(readonly failure: RetryFailure) {
    super(failure);
  }
}

/**
 * Queues the delivery's next attempt now. Decided on the delivery's row, locked: requests for the same delivery
 * are decided one after another, and a delivery that is already pending (its next attempt queued or being made,
 * by an earlier retry or its fan-out) is answered as it is, with nothing recorded or queued — a second job for the
 * same attempt number would send it twice and leave the delivery waiting on a job that is then skipped.
 */
export async function retryDelivery(ctx: AppContext, orgId: string, deliveryId: string, meta: EntryMeta): Promise<DeliveryRow> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    const delivery = await getDeliveryForChange(tx, deliveryId);
    if (!delivery) throw new RetryError("delivery_not_found");
    if (delivery.status === "succeeded") throw new RetryError("already_succeeded");
    if (delivery.status === "pending") return delivery;
    const subscription = await getSubscription(tx, delivery.subscription_id);
    if (!subscription) throw new RetryError("subscription_deleted");
    if (!subscription.enabled) throw new RetryError("subscription_disabled");
    await ctx.ledger.record(tx, deliveryStream(deliveryId), ANY_VERSION, [{ type: "delivery.retry_requested", data: { delivery_id: deliveryId, app_id: delivery.app_id, reason: "manual" }, meta }]);
    await enqueueDeliveries(tx, orgId, [{ deliveryId, attempt: delivery.attempts + 1, manual: true }], ctx.now());
    return (await getDelivery(tx, deliveryId)) as DeliveryRow;
  });
}

/**
 * Deliveries recover re-queues at most per call (`remaining` says to call again, as replay-missing and dead-letter
 * replays do). Unbounded, one call re-queued every failed delivery of the window in one transaction: 21,854 took
 * 8.7 s holding their rows, and held the event loop (every tenant's requests) up to 350 ms building the entries
 * (sweep 22); a dead endpoint at a few events a second fails that many in a day.
 */
const MAX_RECOVERED = 1000;

export async function recoverSubscription(ctx: AppContext, orgId: string, subscriptionId: string, window: RecoverWindow, meta: EntryMeta): Promise<{ deliveries: number; remaining: boolean }> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    const subscription = await getSubscription(tx, subscriptionId);
    // The route found it a moment ago; deleted since, it is as gone as one never made.
    if (!subscription) throw new RetryError("subscription_not_found");
    if (!subscription.enabled) throw new RetryError("subscription_disabled");
    // One more than is taken says whether any remain (a concurrent recover taking some first can make it say no early).
    const found = await recoverableDeliveries(tx, subscriptionId, window, MAX_RECOVERED + 1);
    const recoverable = found.slice(0, MAX_RECOVERED);
    await ctx.ledger.recordMany(
      tx,
      recoverable.map(({ delivery_id, app_id }) => ({
        stream: deliveryStream(delivery_id),
        expectedStreamVersion: ANY_VERSION,
        entries: [{ type: "delivery.retry_requested" as const, data: { delivery_id, app_id, reason: "recover" as const }, meta }],
      })),
    );
    await enqueueDeliveries(tx, orgId, recoverable.map((delivery) => ({ deliveryId: delivery.delivery_id, attempt: delivery.attempts + 1, manual: true })), ctx.now());
    return { deliveries: recoverable.length, remaining: found.length > MAX_RECOVERED };
  });
}

/** Events replay-missing sends at most per call, and reads at most looking for them (`remaining` says if it stopped). */
const MAX_MISSING_REPLAYED = 1000;
const MAX_MISSING_SCANNED = 20_000;
const MISSING_PAGE = 1000;

/**
 * Sends a subscription every event of its application received in the window that matches its filters now and
 * that it never got a delivery of — what it missed while disabled, or before it existed (Svix's replay-missing).
 * Each is replayed to it alone (`event.replayed` naming it, a new delivery), oldest first, at most
 * MAX_MISSING_REPLAYED per call; `remaining` says a call stopped at a limit, and the same call again goes on (what
 * it replayed has a delivery now). Decided on the subscription's row, locked: two calls at once replay each event once.
 */
export async function replayMissing(ctx: AppContext, orgId: string, subscriptionId: string, window: RecoverWindow, meta: EntryMeta): Promise<{ deliveries: number; remaining: boolean }> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    const subscription = await getSubscriptionForChange(tx, subscriptionId);
    if (!subscription) throw new RetryError("subscription_not_found");
    if (!subscription.enabled) throw new RetryError("subscription_disabled");
    const missing: string[] = [];
    let remaining = false;
    let after: { receivedAt: Date; eventId: string } | undefined;
    let scanned = 0;
    pages: for (;;) {
      const page = await eventsWithoutDelivery(tx, { appId: subscription.app_id, subscriptionId, window, after, limit: MISSING_PAGE });
      scanned += page.length;
      for (const event of page) {
        if (!matchesSubscription(subscription, { eventType: event.event_type, labels: event.labels, channels: event.channels })) continue;
        if (missing.length === MAX_MISSING_REPLAYED) {
          remaining = true;
          break pages;
        }
        missing.push(event.event_id);
      }
      const last = page.at(-1);
      if (!last || page.length < MISSING_PAGE) break;
      if (scanned >= MAX_MISSING_SCANNED) {
        remaining = true;
        break;
      }
      after = { receivedAt: last.received_at, eventId: last.event_id };
    }
    const scheduled = missing.map((eventId) => ({ eventId, ...deliveriesScheduled({ eventId, appId: subscription.app_id }, [subscriptionId], "replay", meta) }));
    await ctx.ledger.recordMany(tx, scheduled.flatMap(({ eventId, appends }) => [eventReplayed({ event_id: eventId, subscription_id: subscriptionId, deliveries_scheduled: 1 }, meta), ...appends]));
    await enqueueDeliveries(tx, orgId, scheduled.flatMap(({ deliveryIds }) => deliveryIds.map((deliveryId) => ({ deliveryId, attempt: 1 }))), ctx.now());
    return { deliveries: scheduled.length, remaining };
  });
}
