/** `/v1/events`: ingestion (202), history and replay. */
import { Hono } from "hono";
import * as v from "valibot";
import type { AppContext } from "../../context.ts";
import { withTenant } from "../../db/tenant.ts";
import type { HttpEnv } from "../../http/env.ts";
import { base64Field, exactObject, MAX_MEDIA_TYPE_LENGTH, MEDIA_TYPE, timestampField, uuidField } from "../../http/fields.ts";
import { page, pageRequest, paginationQuery } from "../../http/pagination.ts";
import { ProblemError } from "../../http/problem.ts";
import { readJson, readOptionalJson, readQuery } from "../../http/validate.ts";
import { auditMeta } from "../../tenancy/audit.ts";
import { appRefField } from "../../tenancy/applicationRefs.ts";
import { requireAppAccess, requireScope } from "../../tenancy/authorize.ts";
import { applicationIdOfRef } from "../../tenancy/routes/applicationInPath.ts";
import { eventApplicationOf, type EventApplication } from "../eventApplication.ts";
import { CHANNEL_NAME, MAX_CHANNEL_NAME } from "../matching.ts";
import { DELIVERY_STATUSES, deliveriesOfEvent, getEvent, listEvents, type DeliveryRow } from "../deliveryStore.ts";
import { channelsField, eventIdField, eventTypeNameField, labelsField } from "../fields.ts";
import { ingestEvent, IngestError, type IncomingEvent } from "../ingest.ts";
import { replayEvent, ReplayError } from "../replay.ts";
import { presentDelivery, presentEvent, type AcceptedEventJson, type EventWithDeliveriesJson, type ReplayedEventJson } from "./present.ts";

const contentTypeField = v.pipe(v.string(), v.maxLength(MAX_MEDIA_TYPE_LENGTH), v.regex(MEDIA_TYPE, "expected a media type such as application/xml"));

export const eventBody = exactObject({
  /** The application's id, or its uid. */
  app_id: appRefField,
  event_type: eventTypeNameField,
  event_id: v.optional(eventIdField),
  payload: v.optional(v.unknown()),
  payload_text: v.optional(v.string()),
  payload_base64: v.optional(base64Field),
  content_type: v.optional(contentTypeField),
  labels: v.optional(labelsField, {}),
  channels: v.optional(
    v.nullable(
      v.pipe(
        channelsField,
        v.minLength(1, "give at least one channel, or leave channels out"),
        v.description("1-10 channel names (Svix's), none twice; null or left out: none. A subscription with channels receives the event only if it carries one of them."),
      ),
    ),
  ),
  occurred_at: v.optional(timestampField),
});

/** The deliveries `GET /v1/events/{event_id}` embeds; the rest are paged by `GET /v1/events/{event_id}/deliveries`. */
const EMBEDDED_DELIVERIES = 100;
const deliveryCursor = (row: DeliveryRow) => ({ k: row.created_at.toISOString(), id: row.delivery_id });

export const eventDeliveriesQuery = exactObject({ ...paginationQuery });

export const eventListQuery = exactObject({
  ...paginationQuery,
  app_id: v.optional(appRefField),
  event_type: v.optional(eventTypeNameField),
  label: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]{1,64}:.{0,256}$/, "expected key:value, e.g. region:eu"))),
  channel: v.optional(
    v.pipe(
      v.string(),
      v.maxLength(MAX_CHANNEL_NAME, `at most ${MAX_CHANNEL_NAME} characters`),
      v.regex(CHANNEL_NAME, "expected a channel name: letters, digits, _ . : and - only"),
      v.description("Events that carry this channel."),
    ),
  ),
  since: v.optional(timestampField),
  until: v.optional(timestampField),
  status: v.optional(v.picklist(DELIVERY_STATUSES, "expected a delivery status")),
});

export const replayBody = exactObject({ subscription_id: v.optional(uuidField) });

/** Turns the body's payload variant into what is stored and delivered, refusing ambiguity and excess size. */
function toIncoming(body: v.InferOutput<typeof eventBody>, application: EventApplication, maxBytes: number): IncomingEvent {
  const given = [body.payload !== undefined, body.payload_text !== undefined, body.payload_base64 !== undefined].filter(Boolean).length;
  if (given !== 1) {
    throw new ProblemError("validation", "send exactly one payload", {
      errors: [{ field: "payload", message: "give exactly one of payload (JSON), payload_text or payload_base64 (with content_type)" }],
    });
  }
  let incoming: Omit<IncomingEvent, "appId" | "eventType" | "labels">;
  let size: number;
  if (body.payload !== undefined) {
    const text = JSON.stringify(body.payload);
    incoming = { encoding: "json", payload: text, parsedPayload: body.payload, contentType: body.content_type ?? "application/json" };
    size = Buffer.byteLength(text);
  } else if (body.payload_text !== undefined) {
    incoming = { encoding: "text", payload: body.payload_text, contentType: body.content_type ?? "text/plain; charset=utf-8" };
    size = Buffer.byteLength(body.payload_text);
  } else {
    if (!body.content_type) {
      throw new ProblemError("validation", "binary payloads need a content type", { errors: [{ field: "content_type", message: "required with payload_base64" }] });
    }
    const raw = body.payload_base64 ?? "";
    incoming = { encoding: "base64", payload: raw, contentType: body.content_type };
    size = Buffer.from(raw, "base64").byteLength;
  }
  if (size > maxBytes) {
    throw new ProblemError("payload-too-large", `the payload is ${size} bytes; the limit is ${maxBytes} (HOOKLEDGER_MAX_EVENT_BYTES)`, { max_bytes: maxBytes, payload_bytes: size });
  }
  return {
    ...incoming,
    ...application,
    eventType: body.event_type,
    labels: body.labels,
    ...(body.channels ? { channels: body.channels } : {}),
    ...(body.event_id ? { eventId: body.event_id } : {}),
    ...(body.occurred_at ? { occurredAt: body.occurred_at } : {}),
  };
}

const notFound = () => new ProblemError("not-found", "no such event");
const unknownApplication = () => new ProblemError("validation", "the application does not exist", { errors: [{ field: "app_id", message: "no such application" }] });

/** `region:eu` → { key: "region", value: "eu" }; label keys cannot contain a colon, values may. */
function splitLabel(raw: string): { key: string; value: string } {
  const at = raw.indexOf(":");
  return { key: raw.slice(0, at), value: raw.slice(at + 1) };
}

export function eventRoutes(ctx: AppContext): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();

  app.post("/events", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "events:write");
    const body = await readJson(c, eventBody);
    const ingestOnce = async () => {
      const application = await eventApplicationOf(ctx, auth.orgId, body.app_id);
      if (!application) throw unknownApplication();
      requireAppAccess(auth, application.appId);
      const incoming = toIncoming(body, application, ctx.config.HOOKLEDGER_MAX_EVENT_BYTES);
      return ingestEvent(ctx, auth.orgId, incoming, auditMeta(c), c.get("traceparent"));
    };
    try {
      // A uid that moved after the fan-out memory resolved it is resolved once more, on what the batch read fresh.
      const result = await ingestOnce().catch((error: unknown) => {
        if (error instanceof IngestError && error.failure.kind === "uid_moved") return ingestOnce();
        throw error;
      });
      ctx.metrics.eventsIngested.inc({ outcome: result.duplicate ? "duplicate" : "new" });
      if (!result.duplicate) ctx.metrics.deliveriesScheduled.inc(result.deliveries_scheduled);
      if (result.duplicate) c.header("Idempotent-Replayed", "true");
      if (result.deprecated) c.header("Warning", `299 hookledger "event type ${body.event_type} is deprecated"`);
      const reply: AcceptedEventJson = { event_id: result.event_id, deliveries_scheduled: result.deliveries_scheduled };
      return c.json(reply, 202);
    } catch (error) {
      if (!(error instanceof IngestError)) throw error;
      const failure = error.failure;
      switch (failure.kind) {
        case "unknown_application":
        case "uid_moved":
          throw unknownApplication();
        case "unknown_event_type":
          throw new ProblemError("validation", "the event type is not registered for this application", {
            errors: [{ field: "event_type", message: "create it first under /v1/applications/{app_id}/event-types" }],
          });
        case "schema_violation":
          throw new ProblemError("unprocessable", "the payload does not match the event type's schema", { errors: failure.errors });
        case "idempotency_conflict":
          throw new ProblemError("idempotency-conflict", "this event_id was already used for a different event");
      }
    }
  });

  app.get("/events", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "events:read");
    const query = readQuery(c, eventListQuery);
    const appId = query.app_id === undefined ? undefined : await applicationIdOfRef(ctx, c, query.app_id);
    const { limit, cursor } = pageRequest(query, { k: "timestamp", id: "name" });
    // A uid no application has: no event is of it.
    if (query.app_id !== undefined && appId === undefined) return c.json({ data: [], next_cursor: null });
    const { rows, pageSize } = await withTenant(ctx.sql, auth.orgId, (tx) =>
      listEvents(tx, {
        appId: auth.appId ?? appId,
        eventType: query.event_type,
        since: query.since,
        until: query.until,
        deliveryStatus: query.status,
        ...(query.label ? { label: splitLabel(query.label) } : {}),
        channel: query.channel,
        after: cursor && { receivedAt: cursor.k, id: cursor.id },
        limit,
      }),
    );
    const result = page(rows, pageSize, (row) => ({ k: row.received_at.toISOString(), id: row.event_id }));
    return c.json({ data: result.data.map(presentEvent), next_cursor: result.next_cursor });
  });

  app.get("/events/:event_id", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "events:read");
    const eventId = c.req.param("event_id");
    if (!v.is(eventIdField, eventId)) throw notFound();
    const found = await withTenant(ctx.sql, auth.orgId, async (tx) => {
      const event = await getEvent(tx, eventId);
      return event && { event, deliveries: await deliveriesOfEvent(tx, { eventId, limit: EMBEDDED_DELIVERIES }) };
    });
    if (!found || (auth.appId !== null && auth.appId !== found.event.app_id)) throw notFound();
    const first = page(found.deliveries, EMBEDDED_DELIVERIES, deliveryCursor);
    const reply: EventWithDeliveriesJson = { ...presentEvent(found.event), deliveries: first.data.map(presentDelivery), deliveries_next_cursor: first.next_cursor };
    return c.json(reply);
  });

  app.get("/events/:event_id/deliveries", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "events:read");
    const eventId = c.req.param("event_id");
    if (!v.is(eventIdField, eventId)) throw notFound();
    const query = readQuery(c, eventDeliveriesQuery);
    const { limit, cursor } = pageRequest(query, { k: "timestamp", id: "uuid" });
    const rows = await withTenant(ctx.sql, auth.orgId, async (tx) => {
      const event = await getEvent(tx, eventId);
      if (!event || (auth.appId !== null && auth.appId !== event.app_id)) return undefined;
      return deliveriesOfEvent(tx, { eventId, after: cursor && { createdAt: cursor.k, id: cursor.id }, limit });
    });
    if (!rows) throw notFound();
    const result = page(rows, limit, deliveryCursor);
    return c.json({ data: result.data.map(presentDelivery), next_cursor: result.next_cursor });
  });

  app.post("/events/:event_id/replay", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "events:write");
    const eventId = c.req.param("event_id");
    if (!v.is(eventIdField, eventId)) throw notFound();
    const body = await readOptionalJson(c, replayBody);
    const subscriptionId = body.subscription_id ?? null;
    const event = await withTenant(ctx.sql, auth.orgId, (tx) => getEvent(tx, eventId));
    if (!event || (auth.appId !== null && auth.appId !== event.app_id)) throw notFound();
    try {
      const result = await replayEvent(ctx, auth.orgId, eventId, subscriptionId, auditMeta(c));
      ctx.metrics.deliveriesScheduled.inc(result.deliveryIds.length);
      const reply: ReplayedEventJson = { event_id: eventId, deliveries_scheduled: result.deliveryIds.length, delivery_ids: result.deliveryIds };
      return c.json(reply, 202);
    } catch (error) {
      if (!(error instanceof ReplayError)) throw error;
      if (error.failure === "event_not_found") throw notFound();
      if (error.failure === "subscription_disabled") throw new ProblemError("conflict", "the subscription is disabled; enable it first");
      // Another application's subscription answers exactly like an unknown id (404, same body): an application
      // token must not learn that a sibling's subscription exists.
      throw new ProblemError("not-found", "no such subscription", {
        errors: [{ field: "subscription_id", message: "no such subscription in the event's application" }],
      });
    }
  });

  return app;
}
