/**
 * `POST /v1/subscriptions/{id}/test`: sends a signed `hookledger.ping` event to one subscription right away and
 * returns the attempt. The ping is a real event and delivery in history (reason "test"); it is not retried.
 */
import type { AppContext } from "../context.ts";
import { withTenant } from "../db/tenant.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { attemptDelivery, type AttemptOutcome } from "./attempt.ts";
import { deliveriesScheduled, eventReceived, newEventId } from "./appends.ts";
import { payloadSha256 } from "./ingest.ts";
import { getSubscription } from "./subscriptionStore.ts";

export const PING_EVENT_TYPE = "hookledger.ping";

export async function testSubscription(ctx: AppContext, orgId: string, subscriptionId: string, meta: EntryMeta): Promise<AttemptOutcome | undefined> {
  const eventId = newEventId();
  const deliveryId = await withTenant(ctx.sql, orgId, async (tx) => {
    const subscription = await getSubscription(tx, subscriptionId);
    if (!subscription) return undefined;
    const now = ctx.now().toISOString();
    const payload = JSON.stringify({ type: PING_EVENT_TYPE, subscription_id: subscriptionId, sent_at: now });
    const scheduled = deliveriesScheduled({ eventId, appId: subscription.app_id }, [subscriptionId], "test", meta);
    await ctx.ledger.recordMany(tx, [
      eventReceived(
        {
          event_id: eventId,
          app_id: subscription.app_id,
          event_type: PING_EVENT_TYPE,
          content_type: "application/json",
          payload_encoding: "json",
          payload,
          payload_sha256: payloadSha256({ encoding: "json", payload }),
          request_fingerprint: payloadSha256({ encoding: "json", payload }),
          labels: {},
          occurred_at: now,
          deliveries_scheduled: 1,
        },
        meta,
      ),
      ...scheduled.appends,
    ]);
    return scheduled.deliveryIds[0];
  });
  if (!deliveryId) return undefined;
  return attemptDelivery(ctx, orgId, deliveryId, { retry: false });
}
