/**
 * Ledger entry types of the outbound capability. Secrets never appear here: only their key ids, and custom header
 * values of credential-like names only sealed (sealedHeaders.ts).
 */
import * as v from "valibot";

const uuid = v.pipe(v.string(), v.uuid());
const stringMap = v.record(v.string(), v.string());
const schemes = v.picklist(["standard-webhooks", "hookledger-v1"]);
const errorClass = v.picklist(["timeout", "connection", "tls", "dns", "blocked", "http_status"]);

const subscriptionFields = {
  url: v.string(),
  event_types: v.array(v.string()),
  labels: stringMap,
  /** Custom headers in clear: names that are not credential-like (before sql/087, every name). */
  headers: stringMap,
  // Added with sealed header values (sql/087): credential-like names -> values sealed under the keyring. Always
  // written with `headers`, which replaces both maps; absent on earlier entries, which means none sealed.
  sealed_headers: v.optional(stringMap),
  description: v.nullable(v.string()),
  metadata: stringMap,
  signature_scheme: schemes,
  signed_headers: v.array(v.string()),
  retry_schedule: v.nullable(v.array(v.number())),
  max_attempts: v.number(),
  timeout_ms: v.number(),
  // Added with batched delivery: entries recorded before carry neither (null = the instance default).
  max_concurrency: v.optional(v.nullable(v.number())),
  rate_limit_per_second: v.optional(v.nullable(v.number())),
  // Added with OpenTelemetry (migration 050): absent on earlier entries, which means false.
  send_traceparent: v.optional(v.boolean()),
  // Added with channels (sql/091): 1-10 names, null to clear (an update); absent on a creation without channels and
  // on earlier entries, which means none.
  channels: v.optional(v.nullable(v.array(v.string()))),
};

export const outboundEntries = {
  "event_type.created": v.strictObject({
    app_id: uuid,
    name: v.string(),
    description: v.nullable(v.string()),
    schema: v.nullable(v.record(v.string(), v.unknown())),
    deprecated: v.boolean(),
  }),
  "event_type.updated": v.strictObject({
    app_id: uuid,
    name: v.string(),
    description: v.optional(v.nullable(v.string())),
    schema: v.optional(v.nullable(v.record(v.string(), v.unknown()))),
    deprecated: v.optional(v.boolean()),
  }),
  "event_type.deleted": v.strictObject({ app_id: uuid, name: v.string() }),

  "subscription.created": v.strictObject({ subscription_id: uuid, app_id: uuid, enabled: v.boolean(), key_id: v.string(), ...subscriptionFields }),
  "subscription.updated": v.strictObject({ subscription_id: uuid, ...v.partial(v.object(subscriptionFields)).entries }),
  "subscription.enabled": v.strictObject({ subscription_id: uuid }),
  "subscription.disabled": v.strictObject({ subscription_id: uuid, reason: v.string() }),
  "subscription.auto_disabled": v.strictObject({ subscription_id: uuid, consecutive_failures: v.number(), failing_since: v.string() }),
  "subscription.deleted": v.strictObject({ subscription_id: uuid }),
  "subscription.circuit_opened": v.strictObject({
    subscription_id: uuid,
    consecutive_failures: v.number(),
    last_error_class: v.nullable(errorClass),
    retry_at: v.string(),
    opens: v.number(),
  }),
  "subscription.circuit_closed": v.strictObject({ subscription_id: uuid }),
  "subscription.secret_rotated": v.strictObject({
    subscription_id: uuid,
    key_id: v.string(),
    previous_key_id: v.nullable(v.string()),
    previous_expires_at: v.nullable(v.string()),
  }),
  "subscription.secret_revealed": v.strictObject({ subscription_id: uuid, key_id: v.string() }),

  "event.received": v.strictObject({
    event_id: v.string(),
    app_id: uuid,
    event_type: v.string(),
    content_type: v.string(),
    payload_encoding: v.picklist(["json", "text", "base64"]),
    payload: v.string(),
    /** SHA-256 of the delivered payload bytes (before migration 020: the request fingerprint). */
    payload_sha256: v.string(),
    /** Idempotency fingerprint of the request; absent on entries recorded before it had its own field. */
    request_fingerprint: v.optional(v.string()),
    labels: stringMap,
    /** The producer's channels (sql/091): absent when it gave none. */
    channels: v.optional(v.array(v.string())),
    occurred_at: v.string(),
    deliveries_scheduled: v.number(),
    /**
     * The deliveries the event was fanned out to, scheduled with it (sql/070); a delivery's stream begins with its
     * first attempt. Absent on entries recorded before: each delivery then has its own `delivery.scheduled`.
     */
    deliveries: v.optional(v.array(v.strictObject({ delivery_id: uuid, subscription_id: uuid }))),
    /** W3C traceparent of the fan-out span, recorded only while OpenTelemetry tracing is on. */
    traceparent: v.optional(v.string()),
  }),
  "event.replayed": v.strictObject({ event_id: v.string(), subscription_id: v.nullable(uuid), deliveries_scheduled: v.number() }),

  "delivery.scheduled": v.strictObject({
    delivery_id: uuid,
    event_id: v.string(),
    subscription_id: uuid,
    app_id: uuid,
    reason: v.picklist(["fanout", "replay", "test"]),
  }),
  "delivery.attempted": v.strictObject({
    delivery_id: uuid,
    attempt_id: uuid,
    event_id: v.string(),
    subscription_id: uuid,
    attempt_number: v.number(),
    outcome: v.picklist(["succeeded", "failed", "aborted"]),
    status_code: v.nullable(v.number()),
    error_class: v.nullable(errorClass),
    error_message: v.nullable(v.string()),
    duration_ms: v.number(),
    response_headers: stringMap,
    response_excerpt: v.nullable(v.string()),
    next_attempt_at: v.nullable(v.string()),
  }),
  "delivery.failed": v.strictObject({ delivery_id: uuid, attempts: v.number() }),
  /** The receiver answered `webhook-delivery: abort-message`: no further attempt. */
  "delivery.aborted": v.strictObject({ delivery_id: uuid, attempts: v.number(), status_code: v.nullable(v.number()) }),
  // app_id: the application, for the audit log's attribution (a fanned-out delivery's stream has no entry naming
  // it before these); absent on entries recorded before sql/070.
  "delivery.retry_requested": v.strictObject({ delivery_id: uuid, app_id: v.optional(uuid), reason: v.picklist(["manual", "recover"]) }),
  "delivery.cancelled": v.strictObject({ delivery_id: uuid, app_id: v.optional(uuid), reason: v.string() }),
};

type OutboundEntrySchemas = typeof outboundEntries;

/** Adds these types to the ledger's catalogue types; their schemas reach it at start-up (src/compose/entryTypes.ts). */
declare module "../ledger/catalogue.ts" {
  interface EntrySchemas extends OutboundEntrySchemas {}
}
