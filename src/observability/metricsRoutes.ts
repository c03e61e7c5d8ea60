/**
 * `GET /metrics` (Prometheus text format) and the middleware that counts HTTP requests by route pattern.
 * Access: with HOOKLEDGER_METRICS_TOKEN set, a matching bearer token; otherwise only loopback clients — metrics
 * name routes and volumes, which is not for the internet.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { timingSafeEqualStrings } from "../crypto/constantTime.ts";
import type { HttpEnv } from "../http/env.ts";
import { ProblemError } from "../http/problem.ts";
import type { Metrics } from "./metrics.ts";

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

export function countRequests(metrics: Metrics): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    // The route pattern, never the raw path: ids in paths would explode the label set.
    const route = c.req.routePath && c.req.routePath !== "*" && c.req.routePath !== "/*" ? c.req.routePath : "unmatched";
    metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
    metrics.httpDuration.observe({ method: c.req.method, route }, (performance.now() - started) / 1000);
  };
}

export function metricsRoutes(metrics: Metrics, token: string | undefined): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  app.get("/metrics", async (c) => {
    if (token !== undefined) {
      const offered = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1] ?? "";
      if (!timingSafeEqualStrings(offered, token)) {
        throw new ProblemError("unauthorized", "send the metrics token as Authorization: Bearer <token>", { headers: { "WWW-Authenticate": 'Bearer realm="metrics"' } });
      }
    } else if (!LOOPBACK.test(c.get("clientIp"))) {
      throw new ProblemError("forbidden", "metrics are served to loopback clients only unless HOOKLEDGER_METRICS_TOKEN is set");
    }
    return c.body(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType });
  });
  return app;
}
