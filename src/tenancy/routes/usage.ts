/**
 * `GET /v1/usage`: the organization's quotas and how much of each it uses. Needs `applications:read`: usage is
 * counted per application, and a token that may not list applications has no business counting them. An
 * application token sees its own application only: its subscriptions and the daily event count (the quota its
 * own POST /v1/events answers to), not how many applications or ingress routes the organization has.
 */
import { Hono } from "hono";
import type { AppContext } from "../../context.ts";
import { withTenant } from "../../db/tenant.ts";
import type { HttpEnv } from "../../http/env.ts";
import { requireScope } from "../authorize.ts";
import { applicationCount, eventsToday, ingressRouteCount, quotasOf } from "../quotas.ts";
import type { UsageJson } from "./present.ts";

export function usageRoutes(ctx: AppContext): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  app.get("/usage", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "applications:read");
    const now = ctx.now();
    const result = await withTenant(ctx.sql, auth.orgId, async (tx): Promise<UsageJson> => {
      const quotas = await quotasOf(tx, ctx.config);
      const perApplication = await tx<{ app_id: string; n: number }[]>`
        select app_id, count(*)::int as n from hookledger.subscriptions
        where org_id = hookledger.current_org_id() and deleted_at is null
          ${auth.appId !== null ? tx`and app_id = ${auth.appId}` : tx``}
        group by app_id order by app_id`;
      const organizationWide = auth.appId === null ? { applications: await applicationCount(tx), ingress_routes: await ingressRouteCount(tx) } : {};
      return {
        day: now.toISOString().slice(0, 10),
        quotas,
        usage: {
          events_today: await eventsToday(tx, now),
          ...organizationWide,
          subscriptions_per_application: Object.fromEntries(perApplication.map((row) => [row.app_id, row.n])),
        },
      };
    });
    return c.json(result);
  });
  return app;
}
