/**
 * Every capability's HTTP routes, in the order they are matched: the public receive door, then the `/v1` API
 * (tenancy, outbound, inbound).
 */
import type { AppContext } from "../context.ts";
import type { ApiCaches } from "./caches.ts";
import type { ApiRoutes, MountedRoutes } from "../http/app.ts";
import type { BodyBudget } from "../http/bodyBudget.ts";
import { applicationRoutes } from "../tenancy/routes/applications.ts";
import { auditLogRoutes } from "../tenancy/routes/auditLog.ts";
import { organizationRoutes } from "../tenancy/routes/organizations.ts";
import { tokenRoutes } from "../tenancy/routes/tokens.ts";
import { usageRoutes } from "../tenancy/routes/usage.ts";
import { deliveryRoutes } from "../outbound/routes/deliveries.ts";
import { eventRequestBodyBytes } from "../outbound/eventBodyBytes.ts";
import { eventRoutes } from "../outbound/routes/events.ts";
import { eventTypeRoutes } from "../outbound/routes/eventTypes.ts";
import { operationalWebhookRoutes } from "../outbound/routes/operationalWebhooks.ts";
import { subscriptionRoutes } from "../outbound/routes/subscriptions.ts";
import { ingressRouteRoutes } from "../inbound/routes/ingressRoutes.ts";
import { manualPublishRoutes } from "../inbound/routes/publish.ts";
import { pullRoutes } from "../inbound/routes/pull.ts";
import { pullQueueRoutes } from "../inbound/routes/pullQueues.ts";
import { receiveRoutes } from "../inbound/routes/receive.ts";
import { portalApiRoutes } from "../console/portalApi.ts";
import { surfaceRoutes } from "../console/routes.ts";

/**
 * Webhooks from third parties authenticate by signature, basic or forward auth, not bearer tokens; the console and
 * the portal by their session cookie (a token or portal link exchanged at their own door).
 */
export const publicRoutes = (ctx: AppContext, caches: ApiCaches, bodies: BodyBudget): MountedRoutes[] => [
  { mount: "/in", routes: receiveRoutes(ctx, caches.ingressRoutes, bodies) },
  { mount: "/console", routes: surfaceRoutes(ctx, "console", caches.tokens, bodies) },
  { mount: "/portal", routes: surfaceRoutes(ctx, "portal", caches.tokens, bodies) },
];

export function apiRoutes(ctx: AppContext, caches: ApiCaches): ApiRoutes[] {
  const eventBodyBytes = eventRequestBodyBytes(ctx.config.HOOKLEDGER_MAX_EVENT_BYTES);
  return [
    { routes: organizationRoutes(ctx) },
    { routes: applicationRoutes(ctx) },
    { routes: tokenRoutes(ctx) },
    { routes: auditLogRoutes(ctx) },
    { routes: usageRoutes(ctx) },
    { routes: eventTypeRoutes(ctx) },
    { routes: subscriptionRoutes(ctx) },
    { routes: operationalWebhookRoutes(ctx) },
    { routes: eventRoutes(ctx), largeBodies: [{ method: "POST", path: "/v1/events", maxBytes: eventBodyBytes }] },
    { routes: deliveryRoutes(ctx) },
    { routes: ingressRouteRoutes(ctx, caches.ingressRoutes) },
    { routes: manualPublishRoutes(ctx, caches.ingressRoutes) },
    { routes: pullQueueRoutes(ctx) },
    { routes: pullRoutes(ctx) },
    { routes: portalApiRoutes(ctx) },
  ];
}
