/**
 * The outbound capability's HTTP operations for the OpenAPI document, described with the same valibot schemas
 * the handlers validate with. src/compose/operations.ts assembles every capability's list.
 */
import type { Config } from "../config.ts";
import { APP_ID_IN_PATH } from "../tenancy/applicationRefs.ts";
import { operation as op, type Operation, type WebhookDoc } from "../http/openapi/operation.ts";
import { listOf } from "../http/responses.ts";
import { attemptQuery } from "./routes/deliveries.ts";
import { eventBody, eventDeliveriesQuery, eventListQuery, replayBody } from "./routes/events.ts";
import { eventTypeCreateBody, eventTypeListQuery, eventTypeUpdateBody } from "./routes/eventTypes.ts";
import { OPERATIONAL_EVENT_TYPES, operationalEnvelope, operationalEvents } from "./operationalEvents.ts";
import { operationalWebhooksJson } from "./routes/operationalWebhooks.ts";
import { subscriptionSchemas } from "./routes/subscriptions.ts";
import {
  acceptedEventJson,
  attemptJson,
  createdSubscriptionJson,
  deliveryJson,
  deliveryWithAttemptsJson,
  eventJson,
  eventTypeJson,
  eventWithDeliveriesJson,
  recoveredJson,
  replayedMissingJson,
  replayedEventJson,
  rotatedSecretJson,
  subscriptionJson,
  subscriptionSecretJson,
  subscriptionStatsJson,
} from "./routes/present.ts";

export function outboundOperations(config: Config): Operation[] {
  const sub = subscriptionSchemas(config);
  return [
    op("POST", "/v1/applications/:app_id/event-types", "Event types", "Create an event type, optionally with a JSON Schema for payloads.", { scope: "applications:write", body: eventTypeCreateBody, response: eventTypeJson, problems: ["conflict"], ...APP_ID_IN_PATH }),
    op("GET", "/v1/applications/:app_id/event-types", "Event types", "List event types.", { scope: "applications:read", query: eventTypeListQuery, response: listOf(eventTypeJson), ...APP_ID_IN_PATH }),
    op("GET", "/v1/applications/:app_id/event-types/:name", "Event types", "Get an event type.", { scope: "applications:read", response: eventTypeJson, ...APP_ID_IN_PATH }),
    op("PATCH", "/v1/applications/:app_id/event-types/:name", "Event types", "Update (or deprecate) an event type.", { scope: "applications:write", body: eventTypeUpdateBody, response: eventTypeJson, problems: ["conflict"], ...APP_ID_IN_PATH }),
    op("DELETE", "/v1/applications/:app_id/event-types/:name", "Event types", "Delete an event type.", { scope: "applications:write", problems: ["conflict"], ...APP_ID_IN_PATH }),

    op("POST", "/v1/subscriptions", "Subscriptions", "Create a subscription; the response holds its signing secret.", { scope: "subscriptions:write", body: sub.create, response: createdSubscriptionJson, problems: ["quota-exceeded"] }),
    op("GET", "/v1/subscriptions", "Subscriptions", "List subscriptions.", { scope: "subscriptions:read", query: sub.list, response: listOf(subscriptionJson) }),
    op("GET", "/v1/subscriptions/:subscription_id", "Subscriptions", "Get a subscription with its health.", { scope: "subscriptions:read", response: subscriptionJson }),
    op("PATCH", "/v1/subscriptions/:subscription_id", "Subscriptions", "Update a subscription.", { scope: "subscriptions:write", body: sub.update, response: subscriptionJson, problems: ["secret-unavailable"] }),
    op("DELETE", "/v1/subscriptions/:subscription_id", "Subscriptions", "Delete a subscription and cancel its open deliveries.", { scope: "subscriptions:write" }),
    op("POST", "/v1/subscriptions/:subscription_id/enable", "Subscriptions", "Enable a subscription.", { scope: "subscriptions:write", success: 200, response: subscriptionJson }),
    op("POST", "/v1/subscriptions/:subscription_id/disable", "Subscriptions", "Disable a subscription and cancel its open deliveries.", { scope: "subscriptions:write", success: 200, response: subscriptionJson }),
    op("GET", "/v1/subscriptions/:subscription_id/secret", "Subscriptions", "Reveal the current signing secret (audited).", { scope: "subscriptions:write", response: subscriptionSecretJson, problems: ["validation", "secret-unavailable"] }),
    op("POST", "/v1/subscriptions/:subscription_id/secret/rotate", "Subscriptions", "Rotate the signing secret with an overlap window.", { scope: "subscriptions:write", body: sub.rotate, bodyOptional: true, success: 200, response: rotatedSecretJson, problems: ["conflict"] }),
    op("POST", "/v1/subscriptions/:subscription_id/test", "Subscriptions", "Send a signed ping now, or an example of an event type (payload given, else its schema's first example), and return the attempt.", {
      scope: "subscriptions:write",
      body: sub.test,
      bodyOptional: true,
      success: 200,
      response: attemptJson,
      problems: ["conflict", "unprocessable", "secret-unavailable"],
    }),
    op("POST", "/v1/subscriptions/:subscription_id/recover", "Subscriptions", "Re-send the failed or cancelled deliveries created in [since, until), oldest first, 1,000 per call (`remaining` says to call again).", { scope: "subscriptions:write", body: sub.recover, success: 202, response: recoveredJson, problems: ["conflict"] }),
    op("POST", "/v1/subscriptions/:subscription_id/replay-missing", "Subscriptions", "Send the subscription every event received in [since, until) that matches it and that it never got a delivery of (1,000 per call; `remaining` says to call again).", {
      scope: "subscriptions:write",
      body: sub.recover,
      success: 202,
      response: replayedMissingJson,
      problems: ["conflict"],
    }),
    op("POST", "/v1/operational-webhooks", "Operational webhooks", "Enable operational webhooks: answers the operational application to subscribe to, and its event types (idempotent).", { scope: "subscriptions:write", success: 200, response: operationalWebhooksJson }),
    op("GET", "/v1/operational-webhooks", "Operational webhooks", "The operational application and its event types (404 until enabled).", { scope: "subscriptions:read", response: operationalWebhooksJson, problems: ["not-found"] }),
    op("GET", "/v1/subscriptions/:subscription_id/stats", "Subscriptions", "Count a subscription's deliveries created in [since, until) by status (default: the last 28 days; at most 366).", { scope: "events:read", query: sub.stats, response: subscriptionStatsJson }),
    op("GET", "/v1/subscriptions/:subscription_id/deliveries", "Deliveries", "List a subscription's deliveries with their state.", { scope: "events:read", query: sub.deliveries, response: listOf(deliveryJson) }),

    op("POST", "/v1/events", "Events", "Publish an event: fan-out to matching subscriptions (202).", {
      scope: "events:write",
      body: eventBody,
      success: 202,
      response: acceptedEventJson,
      successHeaders: {
        Warning: {
          description: "`299 hookledger \"event type <name> is deprecated\"` when the event's type is deprecated (the event is accepted all the same).",
          schema: { type: "string" },
        },
      },
      problems: ["unprocessable", "idempotency-conflict"],
    }),
    op("GET", "/v1/events", "Events", "List events.", { scope: "events:read", query: eventListQuery, response: listOf(eventJson) }),
    op("GET", "/v1/events/:event_id", "Events", "Get an event with its first 100 deliveries.", { scope: "events:read", response: eventWithDeliveriesJson }),
    op("GET", "/v1/events/:event_id/deliveries", "Events", "List an event's deliveries, first scheduled first (replays add one per subscription).", { scope: "events:read", query: eventDeliveriesQuery, response: listOf(deliveryJson) }),
    op("POST", "/v1/events/:event_id/replay", "Events", "Replay an event to every matching subscription, or to one.", { scope: "events:write", body: replayBody, bodyOptional: true, success: 202, response: replayedEventJson, problems: ["conflict"] }),

    op("GET", "/v1/deliveries/:delivery_id", "Deliveries", "Get a delivery with its attempts.", { scope: "events:read", response: deliveryWithAttemptsJson }),
    op("POST", "/v1/deliveries/:delivery_id/retry", "Deliveries", "Retry one delivery now (a delivery already pending, its next attempt queued or out, is answered as it is).", { scope: "subscriptions:write", success: 202, response: deliveryJson, problems: ["conflict"] }),
    op("GET", "/v1/attempts", "Deliveries", "List delivery attempts.", { scope: "events:read", query: attemptQuery, response: listOf(attemptJson) }),
    op("GET", "/v1/attempts/:attempt_id", "Deliveries", "Get one attempt with its response excerpt.", { scope: "events:read", response: attemptJson }),
  ];
}

/** Operational events, as the OpenAPI document's `webhooks`: what a subscription to the operational application receives. */
export function operationalWebhookDocs(): WebhookDoc[] {
  return OPERATIONAL_EVENT_TYPES.map((name) => ({
    name,
    summary: `Operational event ${name}`,
    description: `${operationalEvents[name].description} Sent to subscriptions of the operational application (POST /v1/operational-webhooks), signed like every delivery.`,
    body: operationalEnvelope(name),
  }));
}
