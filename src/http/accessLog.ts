/**
 * One structured log line per request, with its request id, so a log search by `request_id` finds the request
 * and anything logged while serving it. Only the route pattern and status are logged: never query strings,
 * headers or bodies, which carry tokens and payloads.
 */
import type { MiddlewareHandler } from "hono";
import type { Logger } from "../log.ts";
import type { HttpEnv } from "./env.ts";

export function accessLog(log: Logger): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const status = c.res.status;
    const fields = {
      request_id: c.get("requestId"),
      method: c.req.method,
      route: c.req.routePath,
      status,
      duration_ms: Math.round((performance.now() - started) * 10) / 10,
      client_ip: c.get("clientIp"),
    };
    if (status >= 500) log.warn("request", fields);
    else log.info("request", fields);
  };
}
