/**
 * Every HTTP operation, described with the same valibot schemas its handler validates with. The OpenAPI document
 * is generated from this list, and a test fails if a served route is missing here (or listed but not served).
 */
import type { Config } from "../../config.ts";
import { operation as op, type Operation } from "./operation.ts";

export type { Operation } from "./operation.ts";
import { attemptQuery } from "../../outbound/routes/deliveries.ts";
import { eventBody, eventListQuery, replayBody } from "../../outbound/routes/events.ts";
import { eventTypeCreateBody, eventTypeListQuery, eventTypeUpdateBody } from "../../outbound/routes/eventTypes.ts";
import { subscriptionSchemas } from "../../outbound/routes/subscriptions.ts";
import { applicationCreateBody, applicationListQuery, applicationUpdateBody } from "../../tenancy/routes/applications.ts";
import { auditLogQuery } from "../../tenancy/routes/auditLog.ts";
import { listQuery as organizationListQuery, organizationCreateBody, organizationUpdateBody } from "../../tenancy/routes/organizations.ts";
import { tokenCreateBody, tokenListQuery } from "../../tenancy/routes/tokens.ts";
import { inboundOperations } from "../../inbound/operations.ts";

export function operations(config: Config): Operation[] {
  const sub = subscriptionSchemas(config);
  return [
    op("GET", "/health", "Operations", "Liveness: the process answers.", { success: 200 }),
    op("GET", "/ready", "Operations", "Readiness: database, migrations and worker.", { success: 200 }),
    op("GET", "/metrics", "Operations", "Prometheus metrics (metrics token, or loopback clients).", { success: 200 }),
    op("GET", "/openapi.json", "Operations", "This document.", { success: 200 }),
    op("GET", "/docs", "Operations", "Interactive API reference.", { success: 200 }),

    op("POST", "/v1/organizations", "Organizations", "Create an organization.", { scope: "instance admin", body: organizationCreateBody }),
    op("GET", "/v1/organizations", "Organizations", "List organizations (an organization token sees its own).", { query: organizationListQuery }),
    op("GET", "/v1/organizations/:org_id", "Organizations", "Get an organization."),
    op("PATCH", "/v1/organizations/:org_id", "Organizations", "Update an organization.", { scope: "admin", body: organizationUpdateBody }),
    op("DELETE", "/v1/organizations/:org_id", "Organizations", "Delete an organization: its tokens are revoked, its applications deleted.", { scope: "instance admin" }),
    op("POST", "/v1/organizations/:org_id/tokens", "Tokens", "Create a token in an organization (how the instance admin issues the first one).", { scope: "admin", body: tokenCreateBody }),

    op("POST", "/v1/tokens", "Tokens", "Create a token; the response holds the token, shown once.", { scope: "admin", body: tokenCreateBody }),
    op("GET", "/v1/tokens", "Tokens", "List tokens.", { scope: "admin", query: tokenListQuery }),
    op("GET", "/v1/tokens/:token_id", "Tokens", "Get a token (never the token itself).", { scope: "admin" }),
    op("DELETE", "/v1/tokens/:token_id", "Tokens", "Revoke a token.", { scope: "admin", success: 200 }),

    op("POST", "/v1/applications", "Applications", "Create an application.", { scope: "applications:write", body: applicationCreateBody }),
    op("GET", "/v1/applications", "Applications", "List applications.", { scope: "applications:read", query: applicationListQuery }),
    op("GET", "/v1/applications/:app_id", "Applications", "Get an application.", { scope: "applications:read" }),
    op("PATCH", "/v1/applications/:app_id", "Applications", "Update an application.", { scope: "applications:write", body: applicationUpdateBody }),
    op("DELETE", "/v1/applications/:app_id", "Applications", "Delete an application: its tokens are revoked, its subscriptions deleted.", { scope: "applications:write" }),

    op("POST", "/v1/applications/:app_id/event-types", "Event types", "Create an event type, optionally with a JSON Schema for payloads.", { scope: "applications:write", body: eventTypeCreateBody }),
    op("GET", "/v1/applications/:app_id/event-types", "Event types", "List event types.", { scope: "applications:read", query: eventTypeListQuery }),
    op("GET", "/v1/applications/:app_id/event-types/:name", "Event types", "Get an event type.", { scope: "applications:read" }),
    op("PATCH", "/v1/applications/:app_id/event-types/:name", "Event types", "Update (or deprecate) an event type.", { scope: "applications:write", body: eventTypeUpdateBody }),
    op("DELETE", "/v1/applications/:app_id/event-types/:name", "Event types", "Delete an event type.", { scope: "applications:write" }),

    op("POST", "/v1/subscriptions", "Subscriptions", "Create a subscription; the response holds its signing secret.", { scope: "subscriptions:write", body: sub.create }),
    op("GET", "/v1/subscriptions", "Subscriptions", "List subscriptions.", { scope: "subscriptions:read", query: sub.list }),
    op("GET", "/v1/subscriptions/:subscription_id", "Subscriptions", "Get a subscription with its health.", { scope: "subscriptions:read" }),
    op("PATCH", "/v1/subscriptions/:subscription_id", "Subscriptions", "Update a subscription.", { scope: "subscriptions:write", body: sub.update }),
    op("DELETE", "/v1/subscriptions/:subscription_id", "Subscriptions", "Delete a subscription and cancel its open deliveries.", { scope: "subscriptions:write" }),
    op("POST", "/v1/subscriptions/:subscription_id/enable", "Subscriptions", "Enable a subscription.", { scope: "subscriptions:write", success: 200 }),
    op("POST", "/v1/subscriptions/:subscription_id/disable", "Subscriptions", "Disable a subscription and cancel its open deliveries.", { scope: "subscriptions:write", success: 200 }),
    op("GET", "/v1/subscriptions/:subscription_id/secret", "Subscriptions", "Reveal the current signing secret (audited).", { scope: "subscriptions:write" }),
    op("POST", "/v1/subscriptions/:subscription_id/secret/rotate", "Subscriptions", "Rotate the signing secret with an overlap window.", { scope: "subscriptions:write", body: sub.rotate, success: 200 }),
    op("POST", "/v1/subscriptions/:subscription_id/test", "Subscriptions", "Send a signed ping now and return the attempt.", { scope: "subscriptions:write", success: 200 }),
    op("POST", "/v1/subscriptions/:subscription_id/recover", "Subscriptions", "Re-send every failed or cancelled delivery since a time.", { scope: "subscriptions:write", body: sub.recover, success: 202 }),
    op("GET", "/v1/subscriptions/:subscription_id/deliveries", "Deliveries", "List a subscription's deliveries with their state.", { scope: "events:read", query: sub.deliveries }),

    op("POST", "/v1/events", "Events", "Publish an event: fan-out to matching subscriptions (202).", { scope: "events:write", body: eventBody, success: 202 }),
    op("GET", "/v1/events", "Events", "List events.", { scope: "events:read", query: eventListQuery }),
    op("GET", "/v1/events/:event_id", "Events", "Get an event with its deliveries.", { scope: "events:read" }),
    op("POST", "/v1/events/:event_id/replay", "Events", "Replay an event to every matching subscription, or to one.", { scope: "events:write", body: replayBody, success: 202 }),

    op("GET", "/v1/deliveries/:delivery_id", "Deliveries", "Get a delivery with its attempts.", { scope: "events:read" }),
    op("POST", "/v1/deliveries/:delivery_id/retry", "Deliveries", "Retry one delivery now.", { scope: "subscriptions:write", success: 202 }),
    op("GET", "/v1/attempts", "Deliveries", "List delivery attempts.", { scope: "events:read", query: attemptQuery }),
    op("GET", "/v1/attempts/:attempt_id", "Deliveries", "Get one attempt with its response excerpt.", { scope: "events:read" }),

    op("GET", "/v1/audit-log", "Audit", "List the organization's audit entries.", { scope: "audit:read", query: auditLogQuery }),
    op("GET", "/v1/usage", "Organizations", "Quotas of the organization and today's usage."),

    ...inboundOperations(config),
  ];
}
