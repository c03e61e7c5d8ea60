/**
 * The operational event types: what hookledger tells an organization about its own endpoints and deliveries,
 * published to the organization's operational application (operationalApp.ts) and delivered to its
 * subscriptions like any event.
 *
 * The body of each is `{ type, timestamp, data }` (the Standard Webhooks recommended shape), so one receiver can
 * tell them apart without reading headers. Payloads name ids, counts, statuses and error classes; never a URL
 * (URLs often carry credentials in a path or query), a secret or a custom header value.
 */
import { toJsonSchema } from "@valibot/to-json-schema";
import * as v from "valibot";

const uuid = v.pipe(v.string(), v.uuid());
const errorClass = v.nullable(v.picklist(["timeout", "connection", "tls", "dns", "blocked", "http_status"]));
const endpoint = { app_id: uuid, subscription_id: uuid };
const lastAnswer = { last_status_code: v.nullable(v.number()), last_error_class: errorClass };

export const operationalEvents = {
  "delivery.exhausted": {
    description: "Every attempt of a delivery failed: no further attempt is scheduled (the delivery is failed).",
    data: v.strictObject({ ...endpoint, delivery_id: uuid, event_id: v.string(), event_type: v.string(), attempts: v.number(), ...lastAnswer }),
  },
  "endpoint.failing": {
    description:
      "An endpoint failed this many times in a row: sent when consecutive failures reach 50%, 70%, 90% and 100% of HOOKLEDGER_AUTO_DISABLE_FAILURES.",
    data: v.strictObject({
      ...endpoint,
      consecutive_failures: v.number(),
      /** Consecutive failures at which the endpoint is auto-disabled (once failing for the configured period); null when auto-disable is off. */
      auto_disable_failures: v.nullable(v.number()),
      delivery_id: uuid,
      event_id: v.string(),
      ...lastAnswer,
    }),
  },
  "endpoint.recovered": {
    description: "The first successful attempt after an endpoint.failing.",
    data: v.strictObject({ ...endpoint, consecutive_failures: v.number(), delivery_id: uuid, event_id: v.string() }),
  },
  "endpoint.disabled": {
    description:
      "An endpoint stopped receiving deliveries: reason manual (through the API), auto_disabled (failing for too long) or gone (it answered 410 Gone). Its open deliveries are cancelled.",
    data: v.strictObject({
      ...endpoint,
      reason: v.picklist(["manual", "auto_disabled", "gone"]),
      consecutive_failures: v.nullable(v.number()),
      /** The delivery whose answer caused it (auto_disabled, gone); null for manual. */
      delivery_id: v.nullable(uuid),
      ...lastAnswer,
    }),
  },
  "endpoint.enabled": {
    description: "A disabled endpoint was enabled again through the API; its failure count starts from zero.",
    data: v.strictObject(endpoint),
  },
  "endpoint.circuit_opened": {
    description: "The endpoint's circuit breaker opened: its deliveries wait (no attempts) until retry_at, when one probe goes through.",
    data: v.strictObject({ ...endpoint, consecutive_failures: v.number(), opens: v.number(), retry_at: v.string(), ...lastAnswer }),
  },
  "endpoint.circuit_closed": {
    description: "A probe through the open circuit succeeded: deliveries flow again.",
    data: v.strictObject(endpoint),
  },
  "endpoint.created": {
    description: "A subscription was created.",
    data: v.strictObject({ ...endpoint, event_types: v.array(v.string()), enabled: v.boolean() }),
  },
  "endpoint.updated": {
    description: "A subscription's settings changed: the names of the fields that changed (never their values).",
    data: v.strictObject({ ...endpoint, changed: v.array(v.string()) }),
  },
  "endpoint.deleted": {
    description: "A subscription was deleted; its open deliveries are cancelled.",
    data: v.strictObject(endpoint),
  },
} as const;

export type OperationalEventType = keyof typeof operationalEvents;
export type OperationalData<T extends OperationalEventType> = v.InferOutput<(typeof operationalEvents)[T]["data"]>;

/** One fact to publish: a type and its data. */
export type OperationalFact = { [T in OperationalEventType]: { type: T; data: OperationalData<T> } }[OperationalEventType];

export const OPERATIONAL_EVENT_TYPES = Object.keys(operationalEvents) as OperationalEventType[];

/** The delivered body of an operational event: `{ type, timestamp, data }`. */
export function operationalEnvelope<T extends OperationalEventType>(type: T) {
  return v.strictObject({ type: v.literal(type), timestamp: v.string(), data: operationalEvents[type].data });
}

/** JSON Schema of the delivered body, registered as the event type's schema and documented in OpenAPI. */
export function operationalBodySchema(type: OperationalEventType): Record<string, unknown> {
  const { $schema: _dialect, ...schema } = toJsonSchema(operationalEnvelope(type), { target: "draft-2020-12", errorMode: "ignore" }) as Record<string, unknown>;
  return schema;
}

/**
 * The consecutive-failure counts at which endpoint.failing is sent: 50, 70, 90 and 100% of the auto-disable count
 * (Outpost's alert points), or of its default (50) when auto-disable is off, so failing endpoints are still told.
 */
export function failingThresholds(autoDisableFailures: number): number[] {
  const base = autoDisableFailures > 0 ? autoDisableFailures : 50;
  return [...new Set([50, 70, 90, 100].map((percent) => Math.max(1, Math.ceil((base * percent) / 100))))];
}
