/**
 * Assembles the Hono application: cross-cutting middleware, then each capability's routes.
 */
import { Hono } from "hono";
import type { AppContext } from "../context.ts";
import type { HttpEnv } from "./env.ts";
import { healthRoutes, type ReadinessProbe } from "./health.ts";
import { ProblemError, problemResponse } from "./problem.ts";
import { requestId } from "./requestId.ts";
import { securityHeaders } from "./securityHeaders.ts";

export interface AppOptions {
  ctx: AppContext;
  readiness: Omit<ReadinessProbe, "sql">;
}

export function createApp({ ctx, readiness }: AppOptions): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  app.use(requestId());
  app.use(securityHeaders({ hsts: false }));

  app.route("/", healthRoutes({ sql: ctx.sql, ...readiness }));

  app.notFound((c) => problemResponse(new ProblemError("not-found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`), undefined, c.get("requestId")));
  app.onError((error, c) => {
    const path = new URL(c.req.url).pathname;
    if (error instanceof ProblemError) return problemResponse(error, path, c.get("requestId"));
    ctx.log.error("unhandled error", { request_id: c.get("requestId"), path, error });
    return problemResponse(new ProblemError("internal", "an unexpected error occurred; quote the request id when reporting it"), path, c.get("requestId"));
  });
  return app;
}
