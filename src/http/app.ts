/**
 * Assembles the Hono application: cross-cutting middleware, then each capability's routes.
 */
import { Hono } from "hono";
import type { AppContext } from "../context.ts";
import type { HttpEnv } from "./env.ts";
import { healthRoutes, type ReadinessProbe } from "./health.ts";
import { databaseUnavailableProblem, ProblemError, problemResponse } from "./problem.ts";
import { requestId } from "./requestId.ts";
import { securityHeaders } from "./securityHeaders.ts";
import { countRequests, metricsRoutes } from "../observability/metricsRoutes.ts";
import { openApiRoutes } from "./openapi/routes.ts";
import { accessLog } from "./accessLog.ts";
import { clientAddress, limitBody, limitTime, rateLimitByIp, rateLimitByToken } from "./limits.ts";
import { TokenBuckets } from "./rateLimit.ts";
import { authenticate } from "../tenancy/authenticate.ts";
import type { TokenUsageTracker } from "../tenancy/tokenUsage.ts";
import type { TokenCache } from "../tenancy/tokenCache.ts";
import { applicationRoutes } from "../tenancy/routes/applications.ts";
import { auditLogRoutes } from "../tenancy/routes/auditLog.ts";
import { organizationRoutes } from "../tenancy/routes/organizations.ts";
import { tokenRoutes } from "../tenancy/routes/tokens.ts";
import { usageRoutes } from "../tenancy/routes/usage.ts";
import { deliveryRoutes } from "../outbound/routes/deliveries.ts";
import { eventRoutes } from "../outbound/routes/events.ts";
import { eventTypeRoutes } from "../outbound/routes/eventTypes.ts";
import { subscriptionRoutes } from "../outbound/routes/subscriptions.ts";
import { ingressRouteRoutes } from "../inbound/routes/ingressRoutes.ts";
import { pullRoutes } from "../inbound/routes/pull.ts";
import { pullQueueRoutes } from "../inbound/routes/pullQueues.ts";
import { receiveRoutes } from "../inbound/routes/receive.ts";

export interface AppOptions {
  ctx: AppContext;
  readiness: Omit<ReadinessProbe, "sql">;
  tokenUsage: TokenUsageTracker;
  tokenCache: TokenCache;
  /** Resolved HOOKLEDGER_METRICS_TOKEN: /metrics answers it, or loopback clients when unset. */
  metricsToken?: string | undefined;
}

export function createApp({ ctx, readiness, tokenUsage, tokenCache, metricsToken }: AppOptions): Hono<HttpEnv> {
  const { config } = ctx;
  const app = new Hono<HttpEnv>();
  app.use(requestId());
  app.use(securityHeaders({ hsts: config.HOOKLEDGER_HSTS }));
  app.use(clientAddress(config.HOOKLEDGER_TRUST_PROXY));
  app.use(countRequests(ctx.metrics));
  app.use(accessLog(ctx.log));

  app.route("/", healthRoutes({ sql: ctx.sql, ...readiness }));
  app.route("/", metricsRoutes(ctx.metrics, metricsToken));
  app.route("/", openApiRoutes(config));

  // One set of per-IP buckets for /v1 and /in: an address gets one budget, not one per door.
  const ipBuckets = new TokenBuckets(config.HOOKLEDGER_RATE_LIMIT_IP_RPS, config.HOOKLEDGER_RATE_LIMIT_IP_BURST);

  // Webhooks from third parties authenticate by signature, basic or forward auth, not bearer tokens.
  app.use("/in/*", rateLimitByIp(ipBuckets), limitTime(config.HOOKLEDGER_REQUEST_TIMEOUT_MS));
  app.route("/", receiveRoutes(ctx));

  const v1 = new Hono<HttpEnv>();
  v1.use(rateLimitByIp(ipBuckets));
  v1.use(limitTime(config.HOOKLEDGER_REQUEST_TIMEOUT_MS));
  // Event bodies may carry payloads up to HOOKLEDGER_MAX_EVENT_BYTES, base64-encoded (4/3 larger) plus fields;
  // the exact payload limit is enforced after decoding, with its own message.
  const eventBodyLimit = limitBody(Math.ceil(config.HOOKLEDGER_MAX_EVENT_BYTES * 1.4) + 64 * 1024);
  const bodyLimit = limitBody(config.HOOKLEDGER_MAX_BODY_BYTES);
  v1.use((c, next) => (c.req.method === "POST" && c.req.path === "/v1/events" ? eventBodyLimit(c, next) : bodyLimit(c, next)));
  v1.use(authenticate(ctx, tokenUsage, tokenCache));
  v1.use(rateLimitByToken(new TokenBuckets(config.HOOKLEDGER_RATE_LIMIT_TOKEN_RPS, config.HOOKLEDGER_RATE_LIMIT_TOKEN_BURST)));
  v1.route("/", organizationRoutes(ctx));
  v1.route("/", applicationRoutes(ctx));
  v1.route("/", tokenRoutes(ctx));
  v1.route("/", auditLogRoutes(ctx));
  v1.route("/", usageRoutes(ctx));
  v1.route("/", eventTypeRoutes(ctx));
  v1.route("/", subscriptionRoutes(ctx));
  v1.route("/", eventRoutes(ctx));
  v1.route("/", deliveryRoutes(ctx));
  v1.route("/", ingressRouteRoutes(ctx));
  v1.route("/", pullQueueRoutes(ctx));
  v1.route("/", pullRoutes(ctx));
  app.route("/v1", v1);

  app.notFound((c) => problemResponse(new ProblemError("not-found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`), undefined, c.get("requestId")));
  app.onError((error, c) => {
    const path = new URL(c.req.url).pathname;
    if (error instanceof ProblemError) return problemResponse(error, path, c.get("requestId"));
    const unavailable = databaseUnavailableProblem(error);
    if (unavailable) return problemResponse(unavailable, path, c.get("requestId"));
    ctx.log.error("unhandled error", { request_id: c.get("requestId"), path, error });
    ctx.errors.captureException(error, { requestId: c.get("requestId"), route: c.req.routePath });
    return problemResponse(new ProblemError("internal", "an unexpected error occurred; quote the request id when reporting it"), path, c.get("requestId"));
  });
  return app;
}
