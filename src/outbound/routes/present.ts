/**
 * JSON shapes of outbound resources: one valibot schema each, which the OpenAPI document publishes, and the
 * `present*` function every route answers through, typed by that schema, so every route answers the same shape.
 */
import * as v from "valibot";
import { iso, isoOrNull, named, nullableTimestamp, stringMap, timestamp } from "../../http/responses.ts";
import { DELIVERY_STATUSES, type AttemptRow, type DeliveryRow, type EventRow } from "../deliveryStore.ts";
import type { EventType } from "../eventTypes.ts";
import { redactedHeaders } from "../headerRedaction.ts";
import type { SubscriptionRow } from "../subscriptionStore.ts";


const deliveryStatus = v.picklist(DELIVERY_STATUSES);

const subscriptionFields = {
  id: v.string(),
  app_id: v.string(),
  url: v.string(),
  event_types: v.array(v.string()),
  labels: stringMap,
  channels: v.pipe(v.nullable(v.array(v.string())), v.description("Only events that carry at least one of these channels; null: events whatever their channels.")),
  /** Values that look like credentials read `[redacted]` except in the creation answer. */
  headers: stringMap,
  description: v.nullable(v.string()),
  metadata: stringMap,
  enabled: v.boolean(),
  disabled_reason: v.nullable(v.string()),
  signature_scheme: v.picklist(["standard-webhooks", "hookledger-v1"]),
  signed_headers: v.array(v.string()),
  /** Seconds between tries; null = the instance default. */
  retry_schedule: v.nullable(v.array(v.number())),
  max_attempts: v.number(),
  timeout_ms: v.number(),
  /** Requests in flight to this endpoint per worker process; null = HOOKLEDGER_ENDPOINT_CONCURRENCY. */
  max_concurrency: v.nullable(v.number()),
  /** Deliveries per second across all workers, spread out, never dropped; null = unlimited. */
  rate_limit_per_second: v.nullable(v.number()),
  /** Deliveries carry the attempt span's W3C `traceparent` header (only while the instance exports OpenTelemetry traces). */
  send_traceparent: v.boolean(),
  health: v.object({
    consecutive_failures: v.number(),
    failing_since: nullableTimestamp,
    last_success_at: nullableTimestamp,
    last_failure_at: nullableTimestamp,
    auto_disabled_at: nullableTimestamp,
    /** Circuit breaker: `open` holds deliveries (no attempts) until `retry_at`, when one probe goes through. */
    circuit: v.object({ state: v.picklist(["closed", "open"]), opened_at: nullableTimestamp, retry_at: nullableTimestamp }),
  }),
  created_at: timestamp,
  updated_at: timestamp,
};
export const subscriptionJson = named("Subscription", v.object(subscriptionFields));
export type SubscriptionJson = v.InferOutput<typeof subscriptionJson>;

/** The creation answer: the signing secret, shown here and by the audited reveal only. */
export const createdSubscriptionJson = named("CreatedSubscription", v.object({ ...subscriptionFields, secret: v.string() }));
export type CreatedSubscriptionJson = v.InferOutput<typeof createdSubscriptionJson>;

/**
 * Custom header values that look like credentials are shown only when the subscription is created: the creation
 * passes them in `revealedHeaders`, as given (they are stored sealed).
 */
export function presentSubscription(row: SubscriptionRow, options: { revealedHeaders?: Record<string, string> } = {}): SubscriptionJson {
  const headers = options.revealedHeaders ?? redactedHeaders(row);
  return {
    id: row.subscription_id,
    app_id: row.app_id,
    url: row.url,
    event_types: row.event_types,
    labels: row.labels,
    channels: row.channels,
    headers,
    description: row.description,
    metadata: row.metadata,
    enabled: row.enabled,
    disabled_reason: row.disabled_reason,
    signature_scheme: row.signature_scheme,
    signed_headers: row.signed_headers,
    retry_schedule: row.retry_schedule,
    max_attempts: row.max_attempts,
    timeout_ms: row.timeout_ms,
    max_concurrency: row.max_concurrency,
    rate_limit_per_second: row.rate_limit_per_second,
    send_traceparent: row.send_traceparent,
    health: {
      consecutive_failures: row.consecutive_failures,
      failing_since: isoOrNull(row.failing_since),
      last_success_at: isoOrNull(row.last_success_at),
      last_failure_at: isoOrNull(row.last_failure_at),
      auto_disabled_at: isoOrNull(row.auto_disabled_at),
      circuit: { state: row.circuit_state, opened_at: isoOrNull(row.circuit_opened_at), retry_at: isoOrNull(row.circuit_retry_at) },
    },
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

export const subscriptionSecretJson = named("SubscriptionSecret", v.object({ key_id: v.string(), secret: v.string() }));
export type SubscriptionSecretJson = v.InferOutput<typeof subscriptionSecretJson>;

export const rotatedSecretJson = named(
  "RotatedSubscriptionSecret",
  /** Until `previous_secret_expires_at` both secrets sign; null when there was no previous secret. */
  v.object({ key_id: v.string(), secret: v.string(), previous_secret_expires_at: nullableTimestamp }),
);
export type RotatedSecretJson = v.InferOutput<typeof rotatedSecretJson>;

/** `remaining`: the call stopped at its 1,000 deliveries; the same call again re-queues the next. */
export const recoveredJson = named("RecoveredDeliveries", v.object({ deliveries_requeued: v.number(), remaining: v.boolean() }));
export type RecoveredJson = v.InferOutput<typeof recoveredJson>;
export const replayedMissingJson = named("ReplayedMissingEvents", v.object({ deliveries_scheduled: v.number(), remaining: v.boolean() }));
export type ReplayedMissingJson = v.InferOutput<typeof replayedMissingJson>;

export const eventTypeJson = named(
  "EventType",
  v.object({
    name: v.string(),
    app_id: v.string(),
    description: v.nullable(v.string()),
    /** JSON Schema every payload of this type must match; null = any payload. */
    schema: v.nullable(v.record(v.string(), v.unknown())),
    deprecated: v.boolean(),
    created_at: timestamp,
    updated_at: timestamp,
  }),
);
export type EventTypeJson = v.InferOutput<typeof eventTypeJson>;

export function presentEventType(eventType: EventType): EventTypeJson {
  return {
    name: eventType.name,
    app_id: eventType.app_id,
    description: eventType.description,
    schema: eventType.schema,
    deprecated: eventType.deprecated,
    created_at: iso(eventType.created_at),
    updated_at: iso(eventType.updated_at),
  };
}

const eventFields = {
  id: v.string(),
  app_id: v.string(),
  event_type: v.string(),
  content_type: v.string(),
  /** Exactly one of payload (JSON), payload_text or payload_base64, as the event was published. */
  payload: v.optional(v.unknown()),
  payload_text: v.optional(v.string()),
  payload_base64: v.optional(v.string()),
  labels: stringMap,
  channels: v.pipe(v.nullable(v.array(v.string())), v.description("The channels the producer gave; null when none.")),
  occurred_at: timestamp,
  received_at: timestamp,
  deliveries_scheduled: v.number(),
};
export const eventJson = named("Event", v.object(eventFields));
export type EventJson = v.InferOutput<typeof eventJson>;

export function presentEvent(row: EventRow): EventJson {
  return {
    id: row.event_id,
    app_id: row.app_id,
    event_type: row.event_type,
    content_type: row.content_type,
    ...(row.payload_encoding === "json"
      ? { payload: JSON.parse(row.payload) as unknown }
      : row.payload_encoding === "text"
        ? { payload_text: row.payload }
        : { payload_base64: row.payload }),
    labels: row.labels,
    channels: row.channels,
    occurred_at: iso(row.occurred_at),
    received_at: iso(row.received_at),
    deliveries_scheduled: row.deliveries_scheduled,
  };
}

/** `event_id` is the id receivers deduplicate by; sending the same one again answers the same (Idempotent-Replayed). */
export const acceptedEventJson = named("AcceptedEvent", v.object({ event_id: v.string(), deliveries_scheduled: v.number() }));
export type AcceptedEventJson = v.InferOutput<typeof acceptedEventJson>;

export const replayedEventJson = named("ReplayedEvent", v.object({ event_id: v.string(), deliveries_scheduled: v.number(), delivery_ids: v.array(v.string()) }));
export type ReplayedEventJson = v.InferOutput<typeof replayedEventJson>;

const deliveryFields = {
  id: v.string(),
  event_id: v.string(),
  subscription_id: v.string(),
  app_id: v.string(),
  status: deliveryStatus,
  /** Why it exists: fanout, replay or test. */
  reason: v.string(),
  attempts: v.number(),
  next_attempt_at: nullableTimestamp,
  last_attempt_at: nullableTimestamp,
  last_status_code: v.nullable(v.number()),
  last_error_class: v.nullable(v.string()),
  created_at: timestamp,
  completed_at: nullableTimestamp,
};
export const deliveryJson = named("Delivery", v.object(deliveryFields));
export type DeliveryJson = v.InferOutput<typeof deliveryJson>;

/** A subscription's deliveries created in [since, until), counted by status (`total` is their sum). */
export const subscriptionStatsJson = named(
  "SubscriptionStats",
  v.object({
    since: timestamp,
    until: timestamp,
    deliveries: v.object({
      total: v.number(),
      pending: v.number(),
      retrying: v.number(),
      succeeded: v.number(),
      failed: v.number(),
      cancelled: v.number(),
      aborted: v.number(),
    }),
  }),
);
export type SubscriptionStatsJson = v.InferOutput<typeof subscriptionStatsJson>;

export function presentDelivery(row: DeliveryRow): DeliveryJson {
  return {
    id: row.delivery_id,
    event_id: row.event_id,
    subscription_id: row.subscription_id,
    app_id: row.app_id,
    status: row.status,
    reason: row.reason,
    attempts: row.attempts,
    next_attempt_at: isoOrNull(row.next_attempt_at),
    last_attempt_at: isoOrNull(row.last_attempt_at),
    last_status_code: row.last_status_code,
    last_error_class: row.last_error_class,
    created_at: iso(row.created_at),
    completed_at: isoOrNull(row.completed_at),
  };
}

export const attemptJson = named(
  "Attempt",
  v.object({
    id: v.string(),
    delivery_id: v.string(),
    event_id: v.string(),
    subscription_id: v.string(),
    attempt: v.number(),
    outcome: v.picklist(["succeeded", "failed", "aborted"]),
    status_code: v.nullable(v.number()),
    error_class: v.nullable(v.string()),
    error_message: v.nullable(v.string()),
    duration_ms: v.number(),
    response_headers: stringMap,
    /** The start of the response body, capped. */
    response_excerpt: v.nullable(v.string()),
    attempted_at: timestamp,
    next_attempt_at: nullableTimestamp,
  }),
);
export type AttemptJson = v.InferOutput<typeof attemptJson>;

export function presentAttempt(row: AttemptRow): AttemptJson {
  return {
    id: row.attempt_id,
    delivery_id: row.delivery_id,
    event_id: row.event_id,
    subscription_id: row.subscription_id,
    attempt: row.attempt_number,
    outcome: row.outcome,
    status_code: row.status_code,
    error_class: row.error_class,
    error_message: row.error_message,
    duration_ms: row.duration_ms,
    response_headers: row.response_headers,
    response_excerpt: row.response_excerpt,
    attempted_at: iso(row.attempted_at),
    next_attempt_at: isoOrNull(row.next_attempt_at),
  };
}

/** An event with its first 100 deliveries, first scheduled first; `deliveries_next_cursor` pages on through `/v1/events/{event_id}/deliveries`. */
export const eventWithDeliveriesJson = named(
  "EventWithDeliveries",
  v.object({
    ...eventFields,
    deliveries: v.array(deliveryJson),
    deliveries_next_cursor: v.pipe(v.nullable(v.string()), v.description("null when `deliveries` holds them all; else pass it as `after` to GET /v1/events/{event_id}/deliveries for the rest")),
  }),
);
export type EventWithDeliveriesJson = v.InferOutput<typeof eventWithDeliveriesJson>;

/** A delivery with its latest 100 attempts. */
export const deliveryWithAttemptsJson = named("DeliveryWithAttempts", v.object({ ...deliveryFields, attempt_history: v.array(attemptJson) }));
export type DeliveryWithAttemptsJson = v.InferOutput<typeof deliveryWithAttemptsJson>;
