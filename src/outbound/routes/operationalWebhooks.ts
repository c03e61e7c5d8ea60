/**
 * `/v1/operational-webhooks`: where an organization finds its operational application (operationalApp.ts).
 * POST enables operational webhooks (creates the application on first call; idempotent), GET reads it. Either
 * answers the application id to subscribe to with POST /v1/subscriptions, and the event types it publishes.
 */
import { Hono } from "hono";
import * as v from "valibot";
import type { AppContext } from "../../context.ts";
import { withTenant } from "../../db/tenant.ts";
import type { HttpEnv } from "../../http/env.ts";
import { ProblemError } from "../../http/problem.ts";
import { readNoBody } from "../../http/validate.ts";
import { named } from "../../http/responses.ts";
import { auditMeta } from "../../tenancy/audit.ts";
import { requireOrganizationToken, requireScope } from "../../tenancy/authorize.ts";
import { enableOperationalWebhooks, findOperationalApp } from "../operationalApp.ts";
import { OPERATIONAL_EVENT_TYPES, operationalBodySchema, operationalEvents } from "../operationalEvents.ts";

export const operationalWebhooksJson = named(
  "OperationalWebhooks",
  v.object({
    /** The operational application: subscribe to it with POST /v1/subscriptions. */
    app_id: v.string(),
    event_types: v.array(v.object({ name: v.string(), description: v.string(), schema: v.record(v.string(), v.unknown()) })),
  }),
);

function present(appId: string): v.InferOutput<typeof operationalWebhooksJson> {
  return {
    app_id: appId,
    event_types: OPERATIONAL_EVENT_TYPES.map((name) => ({ name, description: operationalEvents[name].description, schema: operationalBodySchema(name) })),
  };
}

export function operationalWebhookRoutes(ctx: AppContext): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();

  app.post("/operational-webhooks", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "subscriptions:write");
    requireOrganizationToken(auth);
    await readNoBody(c);
    const { appId } = await enableOperationalWebhooks(ctx, auth.orgId, auditMeta(c));
    return c.json(present(appId), 200);
  });

  app.get("/operational-webhooks", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "subscriptions:read");
    requireOrganizationToken(auth);
    const appId = await withTenant(ctx.sql, auth.orgId, (tx) => findOperationalApp(tx));
    if (!appId) throw new ProblemError("not-found", "operational webhooks are not enabled for this organization: POST /v1/operational-webhooks enables them");
    return c.json(present(appId));
  });
  return app;
}
