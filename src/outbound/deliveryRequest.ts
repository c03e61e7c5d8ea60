/**
 * The HTTP request of one delivery attempt: body bytes exactly as stored, hookledger's headers, the
 * subscription's custom headers, and the signature headers of its scheme (one signature per signing secret,
 * so during a rotation overlap both the old and the new secret sign).
 */
import { signHookledgerV1, HOOKLEDGER_SIGNATURE_HEADER } from "../crypto/hookledgerV1.ts";
import { signStandardWebhook } from "../crypto/standardWebhooks.ts";
import { VERSION } from "../version.ts";
import type { EventRow, EventToDeliver } from "./deliveryStore.ts";
import type { SubscriptionRow } from "./subscriptionStore.ts";

export const USER_AGENT = `hookledger/${VERSION}`;

export interface DeliveryRequest {
  url: string;
  headers: Record<string, string>;
  body: string | Uint8Array;
}

export function deliveryBody(event: Pick<EventRow, "payload" | "payload_encoding">): string | Uint8Array {
  return event.payload_encoding === "base64" ? new Uint8Array(Buffer.from(event.payload, "base64")) : event.payload;
}

export function buildDeliveryRequest(input: {
  event: EventToDeliver;
  subscription: SubscriptionRow;
  deliveryId: string;
  attemptNumber: number;
  secrets: readonly string[];
  now: Date;
  /** The attempt span's, for a subscription that opted in (send_traceparent) while tracing is on. */
  traceparent?: string | undefined;
}): DeliveryRequest {
  const { event, subscription } = input;
  const body = deliveryBody(event);
  const headers: Record<string, string> = {
    ...subscription.headers,
    "content-type": event.content_type,
    "user-agent": USER_AGENT,
    "x-hookledger-event-id": event.event_id,
    "x-hookledger-event-type": event.event_type,
    "x-hookledger-delivery-id": input.deliveryId,
    "x-hookledger-attempt": String(input.attemptNumber),
  };
  if (input.traceparent !== undefined) headers.traceparent = input.traceparent;
  if (subscription.signature_scheme === "standard-webhooks") {
    Object.assign(headers, signStandardWebhook({ id: event.event_id, timestamp: input.now, body, secrets: input.secrets }));
  } else {
    headers[HOOKLEDGER_SIGNATURE_HEADER] = signHookledgerV1({
      timestamp: input.now,
      headers,
      // Once each: a subscription stored before names were checked for repeats may list one twice.
      signedHeaderNames: [...new Set(subscription.signed_headers.map((name) => name.toLowerCase()))],
      body,
      secrets: input.secrets,
    });
  }
  return { url: subscription.url, headers, body };
}
