/** `/v1/deliveries` and `/v1/attempts`: delivery state, manual retry, and the attempt history. */
import { Hono } from "hono";
import * as v from "valibot";
import type { AppContext } from "../../context.ts";
import { withTenant } from "../../db/tenant.ts";
import type { HttpEnv } from "../../http/env.ts";
import { exactObject, timestampField, uuidField } from "../../http/fields.ts";
import { page, pageRequest, paginationQuery } from "../../http/pagination.ts";
import { ProblemError } from "../../http/problem.ts";
import { readNoBody, readQuery, uuidParam } from "../../http/validate.ts";
import { auditMeta } from "../../tenancy/audit.ts";
import { requireScope } from "../../tenancy/authorize.ts";
import type { Principal } from "../../tenancy/principal.ts";
import { getAttempt, getDelivery, listAttempts } from "../deliveryStore.ts";
import { eventIdField } from "../fields.ts";
import { retryDelivery, RetryError } from "../replay.ts";
import { presentAttempt, presentDelivery, type DeliveryWithAttemptsJson } from "./present.ts";

export const attemptQuery = exactObject({
  ...paginationQuery,
  subscription_id: v.optional(uuidField),
  event_id: v.optional(eventIdField),
  delivery_id: v.optional(uuidField),
  outcome: v.optional(v.picklist(["succeeded", "failed", "aborted"], "expected succeeded, failed or aborted")),
  error_class: v.optional(v.picklist(["timeout", "connection", "tls", "dns", "blocked", "http_status"], "expected timeout, connection, tls, dns, blocked or http_status")),
  since: v.optional(timestampField),
  until: v.optional(timestampField),
});

/** Application tokens see only their application's deliveries. */
const visible = (auth: Principal, appId: string) => auth.appId === null || auth.appId === appId;

export function deliveryRoutes(ctx: AppContext): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();

  app.get("/deliveries/:delivery_id", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "events:read");
    const id = uuidParam(c, "delivery_id");
    const found = await withTenant(ctx.sql, auth.orgId, async (tx) => {
      const delivery = await getDelivery(tx, id);
      return delivery && { delivery, attempts: await listAttempts(tx, { deliveryId: id, limit: 100 }) };
    });
    if (!found || !visible(auth, found.delivery.app_id)) throw new ProblemError("not-found", "no such delivery");
    const reply: DeliveryWithAttemptsJson = { ...presentDelivery(found.delivery), attempt_history: found.attempts.slice(0, 100).map(presentAttempt) };
    return c.json(reply);
  });

  app.post("/deliveries/:delivery_id/retry", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "subscriptions:write");
    await readNoBody(c);
    const id = uuidParam(c, "delivery_id");
    const delivery = await withTenant(ctx.sql, auth.orgId, (tx) => getDelivery(tx, id));
    if (!delivery || !visible(auth, delivery.app_id)) throw new ProblemError("not-found", "no such delivery");
    try {
      return c.json(presentDelivery(await retryDelivery(ctx, auth.orgId, id, auditMeta(c))), 202);
    } catch (error) {
      if (!(error instanceof RetryError)) throw error;
      if (error.failure === "already_succeeded") throw new ProblemError("conflict", "the delivery already succeeded; replay the event to send it again");
      if (error.failure === "subscription_disabled") throw new ProblemError("conflict", "the subscription is disabled; enable it first");
      if (error.failure === "subscription_deleted") throw new ProblemError("conflict", "the subscription was deleted; replay the event to a subscription that exists");
      throw new ProblemError("not-found", "no such delivery");
    }
  });

  app.get("/attempts", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "events:read");
    const query = readQuery(c, attemptQuery);
    const { limit, cursor } = pageRequest(query, { k: "timestamp", id: "uuid" });
    const rows = await withTenant(ctx.sql, auth.orgId, async (tx) => {
      // An application token lists its application's attempts only: those to its subscriptions (with no
      // subscription named, every filter was answered with an empty list).
      return listAttempts(tx, {
        ...(auth.appId !== null ? { appId: auth.appId } : {}),
        subscriptionId: query.subscription_id,
        eventId: query.event_id,
        deliveryId: query.delivery_id,
        outcome: query.outcome,
        errorClass: query.error_class,
        since: query.since,
        until: query.until,
        after: cursor && { attemptedAt: cursor.k, id: cursor.id },
        limit,
      });
    });
    const result = page(rows, limit, (row) => ({ k: row.attempted_at.toISOString(), id: row.attempt_id }));
    return c.json({ data: result.data.map(presentAttempt), next_cursor: result.next_cursor });
  });

  app.get("/attempts/:attempt_id", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "events:read");
    const id = uuidParam(c, "attempt_id");
    const found = await withTenant(ctx.sql, auth.orgId, async (tx) => {
      const attempt = await getAttempt(tx, id);
      const delivery = attempt && (await getDelivery(tx, attempt.delivery_id));
      return attempt && delivery && { attempt, delivery };
    });
    if (!found || !visible(auth, found.delivery.app_id)) throw new ProblemError("not-found", "no such attempt");
    return c.json(presentAttempt(found.attempt));
  });

  return app;
}
