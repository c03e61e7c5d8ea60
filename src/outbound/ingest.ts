/**
 * Event ingestion: in ONE transaction, `event.received`, a `delivery.scheduled` per matching enabled subscription,
 * their projection rows and their delivery jobs — each kind written with a single statement, whatever the
 * number of subscriptions. Commit, then the caller answers 202.
 *
 * Idempotency: a producer-chosen `event_id` may be sent again. The same request returns the original result;
 * a different request with the same id is a conflict. The request is compared by a hash of what defines the
 * event (application, type, content type, payload, labels), not by the raw JSON text.
 */
import { createHash } from "node:crypto";
import type { AppContext } from "../context.ts";
import type { Tx } from "../db/connect.ts";
import { withTenant } from "../db/tenant.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { StreamVersionConflictError } from "../ledger/errors.ts";
import { getApplication } from "../tenancy/applications.ts";
import { checkEventQuota, countEvent } from "../tenancy/quotas.ts";
import { getEvent } from "./deliveryStore.ts";
import { getEventType } from "./eventTypes.ts";
import { enqueueDeliveries } from "./jobs.ts";
import { matchesEventType, matchesLabels } from "./matching.ts";
import { payloadViolations } from "./payloadSchema.ts";
import { enabledSubscriptionsOf } from "./subscriptionStore.ts";
import { deliveriesScheduled, eventReceived, newEventId } from "./appends.ts";

export interface IncomingEvent {
  appId: string;
  eventId?: string;
  eventType: string;
  contentType: string;
  encoding: "json" | "text" | "base64";
  /** JSON text, plain text, or base64, per `encoding`: exactly what is stored and delivered (after decoding base64). */
  payload: string;
  /** The parsed JSON payload, for schema validation (json encoding only). */
  parsedPayload?: unknown;
  labels: Record<string, string>;
  occurredAt?: Date;
}

export interface IngestResult {
  event_id: string;
  deliveries_scheduled: number;
  /** True when this request repeated an earlier one with the same event_id. */
  duplicate: boolean;
}

export type IngestFailure =
  | { kind: "unknown_application" }
  | { kind: "unknown_event_type" }
  | { kind: "schema_violation"; errors: { field: string; message: string }[] }
  | { kind: "idempotency_conflict" };

export class IngestError extends Error {
  override readonly name = "IngestError";
  constructor(readonly failure: IngestFailure) {
    super(failure.kind);
  }
}

/** JSON with object keys sorted at every level: `{"b":2,"a":1}` and `{"a":1,"b":2}` are the same event. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonicalJson(inner)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

function requestHash(event: IncomingEvent): string {
  const labels = Object.entries(event.labels).sort(([a], [b]) => (a < b ? -1 : 1));
  const payload = event.encoding === "json" ? canonicalJson(event.parsedPayload) : event.payload;
  return createHash("sha256").update(JSON.stringify([event.appId, event.eventType, event.contentType, event.encoding, payload, labels])).digest("hex");
}

export async function ingestEvent(ctx: AppContext, orgId: string, event: IncomingEvent, meta: EntryMeta): Promise<IngestResult & { deprecated: boolean }> {
  const eventId = event.eventId ?? newEventId();
  const hash = requestHash(event);
  /** The earlier result when this event_id was already accepted (same event), or a conflict (different one). */
  const earlierResult = async (tx: Tx): Promise<(IngestResult & { deprecated: boolean }) | undefined> => {
    const existing = await getEvent(tx, eventId);
    if (!existing) return undefined;
    if (existing.payload_sha256 !== hash) throw new IngestError({ kind: "idempotency_conflict" });
    return { event_id: eventId, deliveries_scheduled: existing.deliveries_scheduled, duplicate: true, deprecated: false };
  };

  try {
    return await withTenant(ctx.sql, orgId, async (tx) => {
      const earlier = event.eventId ? await earlierResult(tx) : undefined;
      if (earlier) return earlier;
      if (!(await getApplication(tx, event.appId))) throw new IngestError({ kind: "unknown_application" });
      const eventType = await getEventType(tx, event.appId, event.eventType);
      if (!eventType) throw new IngestError({ kind: "unknown_event_type" });
      if (eventType.schema && event.encoding === "json") {
        const errors = payloadViolations(eventType.schema, event.parsedPayload);
        if (errors.length > 0) throw new IngestError({ kind: "schema_violation", errors });
      }
      await checkEventQuota(tx, ctx.config, ctx.now());
      const targets = (await enabledSubscriptionsOf(tx, event.appId)).filter(
        (subscription) => matchesEventType(subscription.event_types, event.eventType) && matchesLabels(subscription.labels, event.labels),
      );
      const scheduled = deliveriesScheduled({ eventId, appId: event.appId }, targets.map((target) => target.subscription_id), "fanout", meta);
      await ctx.ledger.recordMany(tx, [
        eventReceived(
          {
            event_id: eventId,
            app_id: event.appId,
            event_type: event.eventType,
            content_type: event.contentType,
            payload_encoding: event.encoding,
            payload: event.payload,
            payload_sha256: hash,
            labels: event.labels,
            occurred_at: (event.occurredAt ?? ctx.now()).toISOString(),
            deliveries_scheduled: targets.length,
          },
          meta,
        ),
        ...scheduled.appends,
      ]);
      const deliveryIds = scheduled.deliveryIds;
      await enqueueDeliveries(tx, orgId, deliveryIds.map((deliveryId) => ({ deliveryId })));
      await countEvent(tx, ctx.now());
      return { event_id: eventId, deliveries_scheduled: targets.length, duplicate: false, deprecated: eventType.deprecated };
    });
  } catch (error) {
    // Two requests with the same new event_id raced: the loser answers like a repeat (or a conflict).
    if (error instanceof StreamVersionConflictError && event.eventId) {
      const earlier = await withTenant(ctx.sql, orgId, earlierResult);
      if (earlier) return earlier;
    }
    throw error;
  }
}
