/** The HTTP application with every capability's routes, bearer-token authentication and OpenAPI operations. */
import type { Hono } from "hono";
import type { AppContext } from "../context.ts";
import { createApp, type AppOptions } from "../http/app.ts";
import { bodyBytesPerClient } from "../config.ts";
import { createBodyBudget } from "../http/bodyBudget.ts";
import type { HttpEnv } from "../http/env.ts";
import { authenticate } from "../tenancy/authenticate.ts";
import { auditRequirements, policyRefusals } from "../tenancy/auditRequirements.ts";
import { idempotentRequests } from "../tenancy/idempotentRequests.ts";
import type { TokenUsageTracker } from "../tenancy/tokenUsage.ts";
import type { ApiCaches } from "./caches.ts";
import { capabilityOperations, capabilityWebhooks } from "./operations.ts";
import { doorOf } from "./listeners.ts";
import { apiRoutes, publicRoutes } from "./routes.ts";

export function composeApp(options: {
  ctx: AppContext;
  readiness: AppOptions["readiness"];
  tokenUsage: TokenUsageTracker;
  caches: ApiCaches;
  metricsToken?: string | undefined;
  /** The doors with a listener of their own (ingress, pull, admin); their routes answer 404 elsewhere. */
  separateDoors?: ReadonlySet<string>;
}): Hono<HttpEnv> {
  const { ctx, tokenUsage, caches } = options;
  const bodyBudget = createBodyBudget({ maxBytes: ctx.config.HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT, maxBytesPerClient: bodyBytesPerClient(ctx.config) }, ctx.metrics.registry);
  return createApp({
    ctx,
    readiness: options.readiness,
    metricsToken: options.metricsToken,
    authenticate: authenticate(ctx, tokenUsage, caches.tokens),
    publicRoutes: publicRoutes(ctx, caches, bodyBudget),
    bodyBudget,
    apiRoutes: apiRoutes(ctx, caches),
    operations: capabilityOperations(ctx.config),
    webhooks: capabilityWebhooks(),
    listeners: options.separateDoors ? { doorOf, separate: options.separateDoors } : undefined,
    afterAuthentication: auditRequirements(ctx.config, policyRefusals(ctx.metrics.registry)),
    // A request may run past its timeout (the client was answered 503, the handler goes on): its key stays held
    // for twice that, so a repeat sent after the 503 is told to wait instead of running again.
    aroundHandlers: [idempotentRequests(ctx, 2 * ctx.config.HOOKLEDGER_REQUEST_TIMEOUT_MS)],
  });
}
