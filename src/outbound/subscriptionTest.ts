/**
 * `POST /v1/subscriptions/{id}/test`: sends a signed event to one subscription right away and returns the attempt —
 * a `hookledger.ping`, or an example of one of the application's event types (Svix's "send example"): the payload
 * given, else the first of its schema's `examples`, else `{}`, checked against its schema as an event's would be.
 * The test is a real event and delivery in history (reason "test"), sent whatever the subscription's filters say
 * (naming it is the filter), not retried, and not counted against the event quota.
 */
import type { AppContext } from "../context.ts";
import { withTenant } from "../db/tenant.ts";
import { ProblemError, type FieldError } from "../http/problem.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { attemptDelivery, type AttemptOutcome } from "./attempt.ts";
import { deliveriesScheduled, eventReceived, newEventId } from "./appends.ts";
import { getEventType } from "./eventTypes.ts";
import { payloadSha256 } from "./ingest.ts";
import { payloadViolations, schemaBudgetsOf, type SchemaBudgets } from "./payloadSchema.ts";
import { openHeaders } from "./sealedHeaders.ts";
import { signingSecrets } from "./subscriptionSecrets.ts";
import { getSubscription } from "./subscriptionStore.ts";

export const PING_EVENT_TYPE = "hookledger.ping";

/** What to send instead of the ping: an event type of the subscription's application, and its payload if given. */
export interface TestExample {
  eventType: string;
  payload?: unknown;
}

/** Why a test example was not sent; the route answers 422 naming the field. */
export class TestExampleError extends Error {
  constructor(readonly errors: FieldError[]) {
    super("the test example cannot be sent");
  }
}

/** The example's payload: the one given, else its schema's first example, else `{}`; checked against the schema. */
function examplePayload(orgId: string, schema: Record<string, unknown> | null, example: TestExample, budgets: SchemaBudgets): unknown {
  const examples = schema?.["examples"];
  const fromSchema = Array.isArray(examples) && examples.length > 0;
  const payload = example.payload !== undefined ? example.payload : fromSchema ? examples[0] : {};
  if (!schema) return payload;
  const errors = payloadViolations(schema, payload, orgId, budgets);
  if (errors.length === 0) return payload;
  if (example.payload !== undefined) throw new TestExampleError(errors);
  throw new TestExampleError([{ field: "payload", message: `the event type's ${fromSchema ? "first schema example" : "default payload {}"} does not match its schema; give a payload` }]);
}

export async function testSubscription(ctx: AppContext, orgId: string, subscriptionId: string, meta: EntryMeta, example?: TestExample): Promise<AttemptOutcome | undefined> {
  const eventId = newEventId();
  const deliveryId = await withTenant(ctx.sql, orgId, async (tx) => {
    const subscription = await getSubscription(tx, subscriptionId);
    if (!subscription) return undefined;
    // What the send will open, opened first: a secret or sealed header the keyring cannot open throws here (the
    // request answers `secret-unavailable`) before a test event is recorded that the worker would only put off.
    await signingSecrets(tx, ctx.keyring, subscriptionId, ctx.now());
    openHeaders(ctx.keyring, subscriptionId, subscription);
    const now = ctx.now().toISOString();
    let eventType = PING_EVENT_TYPE;
    let payload = JSON.stringify({ type: PING_EVENT_TYPE, subscription_id: subscriptionId, sent_at: now });
    if (example) {
      const type = await getEventType(tx, subscription.app_id, example.eventType);
      if (!type) throw new TestExampleError([{ field: "event_type", message: "no such event type in the subscription's application" }]);
      eventType = type.name;
      payload = JSON.stringify(examplePayload(orgId, type.schema, example, schemaBudgetsOf(ctx.config)));
      // An example is an event in history, held to an event's limit (the request body may be twice as large).
      const size = Buffer.byteLength(payload);
      const maxBytes = ctx.config.HOOKLEDGER_MAX_EVENT_BYTES;
      if (size > maxBytes) {
        throw new ProblemError("payload-too-large", `the payload is ${size} bytes; the limit is ${maxBytes} (HOOKLEDGER_MAX_EVENT_BYTES)`, { max_bytes: maxBytes, payload_bytes: size });
      }
    }
    const scheduled = deliveriesScheduled({ eventId, appId: subscription.app_id }, [subscriptionId], "test", meta);
    await ctx.ledger.recordMany(tx, [
      eventReceived(
        {
          event_id: eventId,
          app_id: subscription.app_id,
          event_type: eventType,
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
