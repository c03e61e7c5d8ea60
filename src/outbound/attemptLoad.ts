/**
 * Loading a batch of due deliveries: the deliveries with their events, their subscriptions, signing secrets and
 * delivery-stream versions, with one statement per table sent together (one round trip), and the cancellation of
 * deliveries whose subscription was disabled or deleted meanwhile — all in one short transaction that ends
 * before anything is sent.
 */
import type { AppContext } from "../context.ts";
import { withTenant } from "../db/tenant.ts";
import { ANY_VERSION } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { deliveryStream } from "./appends.ts";
import type { EventRow } from "./deliveryStore.ts";
import { signingSecretsOf } from "./subscriptionSecrets.ts";
import { subscriptionColumns, type SubscriptionRow } from "./subscriptionStore.ts";

export const WORKER_META: EntryMeta = { actor: { kind: "worker" } };

/** One delivery a batch asks for; `attempt` undefined means "whatever attempt is next" (the test ping). */
export interface AttemptRequest {
  deliveryId: string;
  attempt?: number | undefined;
}

export interface LoadedAttempt {
  deliveryId: string;
  attemptNumber: number;
  event: EventRow;
  subscription: SubscriptionRow;
  secrets: string[];
  /** The delivery stream's version when loaded: the outcome is appended only if it is still that. */
  version: number;
  /** The event's trace (its fan-out span), when it was ingested with tracing on: attempt spans join it. */
  traceparent: string | null;
}

export type Skipped = { deliveryId: string; reason: string };

interface DeliveryWithEvent extends EventRow {
  delivery_id: string;
  version: number;
  status: string;
  attempts: number;
  subscription_id: string;
  traceparent: string | null;
}

export async function loadAttempts(ctx: AppContext, orgId: string, requests: AttemptRequest[]): Promise<{ ready: LoadedAttempt[]; skipped: Skipped[] }> {
  const ids = requests.map((request) => request.deliveryId);
  return withTenant(ctx.sql, orgId, async (tx) => {
    const now = ctx.now();
    // The stream version is read in the same statement as the delivery's attempts: under READ COMMITTED each
    // statement has its own snapshot, and a version read after another worker's commit beside an attempt count
    // read before it would let this run record an attempt number that run already recorded.
    // The streams are found by `stream = any($names)`: a comparison with a built name ('delivery:' || id) is not
    // leakproof, so under row-level security it cannot use the index and the planner read the whole streams table
    // (15 ms per batch at 9k streams, 1.5 s at 200k in the bench). Each event is found by its key (a lateral
    // lookup, which `limit 1` keeps from being turned into a join): joined, a plan made on young statistics read
    // every event of the organization and probed deliveries for each (10,334 buffers for 192 deliveries). The
    // subscriptions are found by the ids the deliveries name, collected first (an array): as a semi-join, a plan
    // that took the organization's 20 subscriptions for one walked each one's deliveries (1,043 buffers a load).
    const [deliveries, subscriptions] = await Promise.all([
      tx<DeliveryWithEvent[]>`
        with versions as materialized (
          select stream, version from hookledger.ledger_streams
          where org_id = hookledger.current_org_id() and stream = any(${ids.map(deliveryStream)}::text[])
        )
        select d.delivery_id, d.status, d.attempts, d.subscription_id, v.version, e.event_id, e.app_id, e.event_type, e.content_type,
          e.payload_encoding, e.payload, e.payload_sha256, e.request_fingerprint, e.labels, e.occurred_at, e.received_at, e.deliveries_scheduled, e.traceparent
        from hookledger.deliveries d
        join versions v on v.stream = 'delivery:' || d.delivery_id::text
        cross join lateral (
          select * from hookledger.events e where e.org_id = d.org_id and e.event_id = d.event_id limit 1
        ) e
        where d.org_id = hookledger.current_org_id() and d.delivery_id = any(${ids}::uuid[])`,
      tx<(SubscriptionRow & { deleted: boolean })[]>`
        select ${tx.unsafe(subscriptionColumns)}, deleted_at is not null as deleted from hookledger.subscriptions
        where org_id = hookledger.current_org_id()
          and subscription_id = any(array(
            select subscription_id from hookledger.deliveries where org_id = hookledger.current_org_id() and delivery_id = any(${ids}::uuid[])
          ))`,
    ]);
    const byId = new Map(deliveries.map((row) => [row.delivery_id, row]));
    const subscriptionOf = new Map(subscriptions.map((row) => [row.subscription_id, row]));
    const live = subscriptions.filter((row) => row.enabled && !row.deleted).map((row) => row.subscription_id);
    const secrets = live.length > 0 ? await signingSecretsOf(tx, ctx.keyring, live, now) : new Map();

    const ready: LoadedAttempt[] = [];
    const skipped: Skipped[] = [];
    const cancelled: { deliveryId: string; reason: string }[] = [];
    for (const request of requests) {
      const row = byId.get(request.deliveryId);
      if (!row || (row.status !== "pending" && row.status !== "retrying")) {
        skipped.push({ deliveryId: request.deliveryId, reason: `delivery is ${row?.status ?? "missing"}` });
        continue;
      }
      if (request.attempt !== undefined && request.attempt !== row.attempts + 1) {
        skipped.push({ deliveryId: request.deliveryId, reason: `attempt ${request.attempt} was already made` });
        continue;
      }
      const subscription = subscriptionOf.get(row.subscription_id);
      if (!subscription || subscription.deleted || !subscription.enabled) {
        const reason = subscription && !subscription.deleted ? "subscription disabled" : "subscription deleted";
        cancelled.push({ deliveryId: request.deliveryId, reason });
        skipped.push({ deliveryId: request.deliveryId, reason });
        continue;
      }
      const { delivery_id, status: _status, attempts, subscription_id, version, traceparent, ...event } = row;
      ready.push({
        deliveryId: delivery_id,
        attemptNumber: attempts + 1,
        event,
        subscription,
        secrets: (secrets.get(subscription_id) ?? []).map((secret: { secret: string }) => secret.secret),
        version,
        traceparent,
      });
    }
    if (cancelled.length > 0) {
      await ctx.ledger.recordMany(
        tx,
        cancelled.map(({ deliveryId, reason }) => ({
          stream: deliveryStream(deliveryId),
          expectedStreamVersion: ANY_VERSION,
          entries: [{ type: "delivery.cancelled" as const, data: { delivery_id: deliveryId, reason }, meta: WORKER_META }],
        })),
      );
    }
    return { ready, skipped };
  });
}
