/**
 * The inbound capability's HTTP operations for the OpenAPI document, described with the same valibot schemas
 * the handlers validate with. src/compose/operations.ts assembles every capability's list.
 */
import type { Config } from "../config.ts";
import { operation as op, type Operation } from "../http/openapi/operation.ts";
import type { ProblemSlug } from "../http/problem.ts";
import { listOf } from "../http/responses.ts";
import { ingressRouteSchemas } from "./routes/ingressRoutes.ts";
import { manualPublishBody } from "./routes/publish.ts";
import { ackBody, deadLetterBody, deadLetterListQuery, dequeueBody, extendBody, nackBody } from "./routes/pull.ts";
import { pullQueueCreateBody, pullQueueListQuery, pullQueueUpdateBody } from "./routes/pullQueues.ts";
import {
  acceptedReceiptJson,
  duplicateReceiptJson,
  createdRouteJson,
  deadLetterJson,
  leasedMessagesJson,
  purgedDeadLettersJson,
  queueJson,
  replayedDeadLettersJson,
  routeJson,
  routeSecretJson,
  settledLeasesJson,
  verifiedReceiptJson,
} from "./routes/present.ts";

/**
 * The receive door is outside /v1 but behind the same per-IP limit and request timeout; its answers say nothing
 * about why a request was refused (see routes/receive.ts).
 */
const receiveProblems: readonly ProblemSlug[] = ["unauthorized", "forbidden", "not-found", "payload-too-large", "rate-limited", "unavailable", "timeout"];
/** A sender's retry of a message recorded within the tolerance (its nonce seen): 200, not recorded again. */
const duplicateReceipt = { description: "The request's nonce (signed message id, or timestamp and digest of the signed bytes) was seen within the route's tolerance: it is recorded already, and is not recorded again.", response: duplicateReceiptJson };

export function inboundOperations(config: Config): Operation[] {
  const routes = ingressRouteSchemas(config);
  return [
    op("POST", "/in/:route_id", "Inbound", "Receive a webhook (any body, kept byte-exact), authenticated by the route's signature preset, basic auth or forward auth; 202 with a receipt id once recorded.", { success: 202, response: acceptedReceiptJson, problems: receiveProblems, otherResponses: { 200: duplicateReceipt } }),
    op("POST", "/in/:org_id/:path{.+}", "Inbound", "Receive a webhook at a route's custom path (one or more segments, their `/` sent as is: `%2F` is data, not a separator) in its organization; otherwise exactly like /in/{route_id}.", { success: 202, response: acceptedReceiptJson, problems: receiveProblems, otherResponses: { 200: duplicateReceipt } }),

    op("POST", "/v1/ingress-routes", "Ingress routes", "Create an ingress route; generated secrets are in the response, shown once. `publish.app_id` takes the application's id or uid; a uid is resolved to the id as the route is saved, so the route keeps publishing to that application if the uid later moves.", { scope: "ingress:write", body: routes.create, response: createdRouteJson, problems: ["conflict", "quota-exceeded"] }),
    op("GET", "/v1/ingress-routes", "Ingress routes", "List ingress routes with their rejection counters.", { scope: "ingress:read", query: routes.list, response: listOf(routeJson) }),
    op("GET", "/v1/ingress-routes/:route_id", "Ingress routes", "Get an ingress route with its secrets (ids and windows, never values) and rejection counters.", { scope: "ingress:read", response: routeJson }),
    op("PATCH", "/v1/ingress-routes/:route_id", "Ingress routes", "Update an ingress route. A `publish.app_id` given as a uid is resolved to the application's id as the route is saved, as on create.", { scope: "ingress:write", body: routes.update, response: routeJson, problems: ["conflict"] }),
    op("DELETE", "/v1/ingress-routes/:route_id", "Ingress routes", "Delete an ingress route.", { scope: "ingress:write" }),
    op("POST", "/v1/ingress-routes/:route_id/secrets", "Ingress routes", "Add a secret: a value, a reference (env:, file:) or generated; valid_from inclusive, valid_until exclusive.", { scope: "ingress:write", body: routes.secret, response: routeSecretJson }),
    op("PATCH", "/v1/ingress-routes/:route_id/secrets/:secret_id", "Ingress routes", "Move a secret's validity window (end it to finish a rotation).", { scope: "ingress:write", body: routes.secretWindow, response: routeSecretJson }),
    op("DELETE", "/v1/ingress-routes/:route_id/secrets/:secret_id", "Ingress routes", "Remove a secret.", { scope: "ingress:write" }),
    op("POST", "/v1/ingress-routes/:route_id/publish", "Ingress routes", "Publish a message to the route by hand: the body and headers given are recorded as ingress.received with the caller as actor, then queued and/or published like a received webhook. The publish policy (HOOKLEDGER_PUBLISH_*, the route's manual_publish) is checked first; a refusal is a 403 whose `rule` names it.", { scope: "ingress:write", body: manualPublishBody, success: 202, response: acceptedReceiptJson, problems: ["forbidden", "conflict", "payload-too-large"] }),
    op("GET", "/v1/ingress-routes/:route_id/receipts", "Ingress routes", "List the requests a route accepted, newest first.", { scope: "ingress:read", query: routes.receipts, response: listOf(verifiedReceiptJson) }),

    op("POST", "/v1/pull-queues", "Pull queues", "Create a pull queue.", { scope: "ingress:write", body: pullQueueCreateBody, response: queueJson, problems: ["conflict"] }),
    op("GET", "/v1/pull-queues", "Pull queues", "List pull queues with depth and oldest-message age.", { scope: "ingress:read", query: pullQueueListQuery, response: listOf(queueJson) }),
    op("GET", "/v1/pull-queues/:queue", "Pull queues", "Get a pull queue with depth and oldest-message age.", { scope: "ingress:read", response: queueJson }),
    op("PATCH", "/v1/pull-queues/:queue", "Pull queues", "Update a pull queue's settings.", { scope: "ingress:write", body: pullQueueUpdateBody, response: queueJson }),

    op("POST", "/v1/pull/:queue/dequeue", "Pull", "Lease up to max_messages messages, optionally long-polling up to 20 s.", { scope: "pull:consume", body: dequeueBody, bodyOptional: true, success: 200, response: leasedMessagesJson }),
    op("POST", "/v1/pull/:queue/ack", "Pull", "Acknowledge leased messages: they leave the queue.", { scope: "pull:consume", body: ackBody, success: 200, response: settledLeasesJson }),
    op("POST", "/v1/pull/:queue/nack", "Pull", "Give leased messages back, visible again after delay_seconds.", { scope: "pull:consume", body: nackBody, success: 200, response: settledLeasesJson }),
    op("POST", "/v1/pull/:queue/extend", "Pull", "Extend leases to lease_seconds from now.", { scope: "pull:consume", body: extendBody, success: 200, response: settledLeasesJson }),
    op("GET", "/v1/pull/:queue/dead-letters", "Pull", "List the queue's dead-lettered messages.", { scope: "ingress:read", query: deadLetterListQuery, response: listOf(deadLetterJson) }),
    op("POST", "/v1/pull/:queue/dead-letters/replay", "Pull", "Put dead-lettered messages back on the queue with a fresh delivery count: those of `message_ids`, or without it the oldest 1,000; `remaining` says how many dead letters are left (call again until 0).", { scope: "ingress:write", body: deadLetterBody, bodyOptional: true, success: 200, response: replayedDeadLettersJson }),
    op("POST", "/v1/pull/:queue/dead-letters/purge", "Pull", "Remove dead-lettered messages (audited; the ledger keeps their history): those of `message_ids`, or without it the oldest 1,000; `remaining` says how many dead letters are left (call again until 0).", { scope: "ingress:write", body: deadLetterBody, bodyOptional: true, success: 200, response: purgedDeadLettersJson }),
  ];
}
