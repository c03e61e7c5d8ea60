/**
 * The ledger appends shared by ingestion, replay and the subscription test ping: one `event.received` on the
 * event's new stream, naming the deliveries it was fanned out to (sql/070), and for a delivery scheduled on its own
 * (replay, test ping) a `delivery.scheduled` on the delivery's new stream.
 */
import { randomUUID } from "node:crypto";
import { ANY_VERSION, STREAM_DOES_NOT_EXIST, type StreamAppend } from "../ledger/append.ts";
import type { EntryData } from "../ledger/catalogue.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";

export const eventStream = (eventId: string) => `event:${eventId}`;
export const deliveryStream = (deliveryId: string) => `delivery:${deliveryId}`;

export const newEventId = () => `evt_${randomUUID().replaceAll("-", "")}`;

export function eventReceived(data: EntryData<"event.received">, meta: EntryMeta): StreamAppend {
  return { stream: eventStream(data.event_id), expectedStreamVersion: STREAM_DOES_NOT_EXIST, entries: [{ type: "event.received", data, meta }] };
}

export function eventReplayed(data: EntryData<"event.replayed">, meta: EntryMeta): StreamAppend {
  return { stream: eventStream(data.event_id), expectedStreamVersion: ANY_VERSION, entries: [{ type: "event.replayed", data, meta }] };
}

/** An event's fan-out, with freshly drawn delivery ids: what `event.received` names in `deliveries`. */
export function fanOut(subscriptionIds: readonly string[]): { delivery_id: string; subscription_id: string }[] {
  return subscriptionIds.map((subscriptionId) => ({ delivery_id: randomUUID(), subscription_id: subscriptionId }));
}

/** New deliveries of one event (already recorded) to each subscription, with their freshly drawn ids. */
export function deliveriesScheduled(
  event: { eventId: string; appId: string },
  subscriptionIds: readonly string[],
  reason: EntryData<"delivery.scheduled">["reason"],
  meta: EntryMeta,
): { deliveryIds: string[]; appends: StreamAppend[] } {
  const deliveryIds = subscriptionIds.map(() => randomUUID());
  const appends = subscriptionIds.map((subscriptionId, i): StreamAppend => {
    const deliveryId = deliveryIds[i] as string;
    return {
      stream: deliveryStream(deliveryId),
      expectedStreamVersion: STREAM_DOES_NOT_EXIST,
      entries: [{ type: "delivery.scheduled", data: { delivery_id: deliveryId, event_id: event.eventId, subscription_id: subscriptionId, app_id: event.appId, reason }, meta }],
    };
  });
  return { deliveryIds, appends };
}
