/**
 * `POST /v1/subscriptions/{id}/test`: sends a signed `hookledger.ping` event to one subscription right away and
 * returns the attempt. The ping is a real event and delivery in history (reason "test"); it is not retried.
 */
import { randomUUID } from "node:crypto";
import type { AppContext } from "../context.ts";
import { withTenant } from "../db/tenant.ts";
import { STREAM_DOES_NOT_EXIST } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { attemptDelivery, type AttemptOutcome } from "./attempt.ts";
import { eventStream } from "./ingest.ts";
import { getSubscription } from "./subscriptionStore.ts";
import { deliveryStream } from "./subscriptions.ts";

export const PING_EVENT_TYPE = "hookledger.ping";

export async function testSubscription(ctx: AppContext, orgId: string, subscriptionId: string, meta: EntryMeta): Promise<AttemptOutcome | undefined> {
  const eventId = `evt_${randomUUID().replaceAll("-", "")}`;
  const deliveryId = randomUUID();
  const scheduled = await withTenant(ctx.sql, orgId, async (tx) => {
    const subscription = await getSubscription(tx, subscriptionId);
    if (!subscription) return false;
    const payload = JSON.stringify({ type: PING_EVENT_TYPE, subscription_id: subscriptionId, sent_at: ctx.now().toISOString() });
    await ctx.ledger.recordMany(tx, [
      {
        stream: eventStream(eventId),
        expectedStreamVersion: STREAM_DOES_NOT_EXIST,
        entries: [
          {
            type: "event.received",
            data: {
              event_id: eventId,
              app_id: subscription.app_id,
              event_type: PING_EVENT_TYPE,
              content_type: "application/json",
              payload_encoding: "json",
              payload,
              payload_sha256: "test",
              labels: {},
              occurred_at: ctx.now().toISOString(),
              deliveries_scheduled: 1,
            },
            meta,
          },
        ],
      },
      {
        stream: deliveryStream(deliveryId),
        expectedStreamVersion: STREAM_DOES_NOT_EXIST,
        entries: [{ type: "delivery.scheduled", data: { delivery_id: deliveryId, event_id: eventId, subscription_id: subscriptionId, app_id: subscription.app_id, reason: "test" }, meta }],
      },
    ]);
    return true;
  });
  if (!scheduled) return undefined;
  return attemptDelivery(ctx, orgId, deliveryId, { retry: false });
}
