/**
 * A server span per HTTP request, installed only when traces are exported (so a process without OpenTelemetry
 * runs no code of it per request). A caller's `traceparent` header is continued: a producer's trace reaches
 * through POST /v1/events to the deliveries, a sender's through /in. The span is named by the route pattern, never
 * the raw path (ingress routes and ids live in paths), and handlers find its traceparent under `traceparent`.
 */
import type { MiddlewareHandler } from "hono";
import type { HttpEnv } from "../http/env.ts";
import type { Tracing } from "./tracing.ts";

export function traceRequests(tracing: Tracing): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const span = tracing.startRequest(c.req.method, c.req.header("traceparent"), c.get("requestId"));
    c.set("traceparent", span.traceparent);
    try {
      await next();
    } finally {
      const route = c.req.routePath && c.req.routePath !== "*" && c.req.routePath !== "/*" ? c.req.routePath : "unmatched";
      span.end(route, c.res.status);
    }
  };
}
