/**
 * Publishes operational events inside the transaction of the fact that causes them: each becomes an ordinary
 * `event.received` of the organization's operational application, fanned out to its enabled subscriptions with
 * their `delivery.scheduled` entries and delivery jobs, exactly as an ingested event is. So operational events are
 * ledger entries, in history and the audit views, and delivered, signed and retried like any other.
 *
 * Called only when something changed (a threshold crossed, a delivery exhausted, an endpoint disabled…), never for
 * a success of a healthy endpoint: its cost is one read, and the writes of what it publishes.
 *
 * No loops: a fact about a subscription of the operational application itself is dropped, so a failing
 * operational endpoint produces no operational events about itself.
 */
import type { AppContext } from "../context.ts";
import type { Tx } from "../db/connect.ts";
import { sentTogether } from "../db/sentTogether.ts";
import type { StreamAppend } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { eventReceived, fanOut, newEventId } from "./appends.ts";
import { payloadSha256 } from "./ingest.ts";
import { enqueueDeliveries, type ScheduledDelivery } from "./jobs.ts";
import { matchesSubscription } from "./matching.ts";
import type { OperationalFact } from "./operationalEvents.ts";

interface OperationalTarget {
  app_id: string;
  subscription_id: string | null;
  event_types: string[] | null;
  labels: Record<string, string> | null;
  channels: string[] | null;
}

export async function publishOperationalEvents(ctx: AppContext, tx: Tx, orgId: string, facts: readonly OperationalFact[], meta: EntryMeta): Promise<void> {
  if (facts.length === 0) return;
  const targets = await tx<OperationalTarget[]>`
    select a.app_id, s.subscription_id, s.event_types, s.labels, s.channels
    from hookledger.applications a
    left join hookledger.subscriptions s
      on s.org_id = a.org_id and s.app_id = a.app_id and s.enabled and s.deleted_at is null
    where a.org_id = hookledger.current_org_id() and a.operational and a.deleted_at is null`;
  const appId = targets[0]?.app_id;
  if (appId === undefined) return;
  const now = ctx.now();
  const appends: StreamAppend[] = [];
  const deliveries: ScheduledDelivery[] = [];
  for (const fact of facts) {
    if (fact.data.app_id === appId) continue;
    const payload = JSON.stringify({ type: fact.type, timestamp: now.toISOString(), data: fact.data });
    // Labels let a subscription take the events of one application or endpoint only.
    const labels = { app_id: fact.data.app_id, subscription_id: fact.data.subscription_id };
    // Operational events carry no channels: a subscription with channels takes none of them, as anywhere else.
    const matching = targets.filter(
      (target) =>
        target.subscription_id !== null &&
        matchesSubscription({ event_types: target.event_types ?? [], labels: target.labels ?? {}, channels: target.channels }, { eventType: fact.type, labels }),
    );
    const eventId = newEventId();
    const sha256 = payloadSha256({ encoding: "json", payload });
    const fanout = fanOut(matching.map((target) => target.subscription_id as string));
    appends.push(
      eventReceived(
        {
          event_id: eventId,
          app_id: appId,
          event_type: fact.type,
          content_type: "application/json",
          payload_encoding: "json",
          payload,
          payload_sha256: sha256,
          request_fingerprint: sha256,
          labels,
          occurred_at: now.toISOString(),
          deliveries_scheduled: fanout.length,
          deliveries: fanout,
        },
        meta,
      ),
    );
    deliveries.push(...fanout.map(({ delivery_id }) => ({ deliveryId: delivery_id, attempt: 1 })));
  }
  if (appends.length === 0) return;
  await sentTogether([ctx.ledger.recordMany(tx, appends), enqueueDeliveries(tx, orgId, deliveries, now)]);
  ctx.log.info("operational events published", { count: appends.length });
}
