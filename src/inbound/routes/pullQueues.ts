/** `/v1/pull-queues`: the queues consumers pull from, with their settings, depth and oldest-message age. */
import { Hono } from "hono";
import * as v from "valibot";
import type { AppContext } from "../../context.ts";
import { withTenant } from "../../db/tenant.ts";
import type { HttpEnv } from "../../http/env.ts";
import { descriptionField, exactObject } from "../../http/fields.ts";
import { page, pageRequest, paginationQuery } from "../../http/pagination.ts";
import { ProblemError } from "../../http/problem.ts";
import { readJson, readQuery } from "../../http/validate.ts";
import { auditMeta } from "../../tenancy/audit.ts";
import { mayUseQueue, requireOrganizationToken, requireScope } from "../../tenancy/authorize.ts";
import { leaseSecondsField, queueNameField } from "../fields.ts";
import { createPullQueue, PullQueueExistsError, updatePullQueue } from "../pullQueues.ts";
import { getPullQueue, listPullQueues, pullQueueStats } from "../pullStore.ts";
import { presentQueue } from "./present.ts";

/** Ten tries, then the dead-letter list: enough for transient consumer failures, few enough to notice poison. */
const DEFAULT_MAX_DELIVERIES = 10;
const DEFAULT_LEASE_SECONDS = 30;

const settings = {
  description: descriptionField,
  max_deliveries: v.pipe(v.number(), v.integer("expected a whole number"), v.minValue(1, "at least 1"), v.maxValue(1000, "at most 1000")),
  lease_seconds: leaseSecondsField,
};
export const pullQueueCreateBody = exactObject({
  name: queueNameField,
  description: v.optional(settings.description, null),
  max_deliveries: v.optional(settings.max_deliveries, DEFAULT_MAX_DELIVERIES),
  lease_seconds: v.optional(settings.lease_seconds, DEFAULT_LEASE_SECONDS),
});
export const pullQueueUpdateBody = exactObject({ ...v.partial(v.object(settings)).entries });

export const pullQueueListQuery = exactObject(paginationQuery);

const notFound = () => new ProblemError("not-found", "no such pull queue");

export function pullQueueRoutes(ctx: AppContext): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();

  app.post("/pull-queues", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "ingress:write");
    requireOrganizationToken(auth);
    const { name, ...rest } = await readJson(c, pullQueueCreateBody);
    try {
      const created = await createPullQueue(ctx, auth.orgId, name, rest, auditMeta(c));
      return c.json(presentQueue(created, undefined, ctx.now()), 201);
    } catch (error) {
      if (error instanceof PullQueueExistsError) throw new ProblemError("conflict", "a pull queue with this name exists", { errors: [{ field: "name", message: "already in use" }] });
      throw error;
    }
  });

  app.get("/pull-queues", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "ingress:read");
    requireOrganizationToken(auth);
    const query = readQuery(c, pullQueueListQuery);
    const { limit, cursor } = pageRequest(query, { k: "timestamp", id: "name" });
    const { rows, stats } = await withTenant(ctx.sql, auth.orgId, async (tx) => {
      const rows = await listPullQueues(tx, { limit, after: cursor && { createdAt: cursor.k, id: cursor.id }, only: auth.queues });
      return { rows, stats: await pullQueueStats(tx, rows.slice(0, limit).map((row) => row.queue)) };
    });
    const result = page(rows, limit, (row) => ({ k: row.created_at.toISOString(), id: row.queue }));
    const now = ctx.now();
    return c.json({ data: result.data.map((row) => presentQueue(row, stats.get(row.queue), now)), next_cursor: result.next_cursor });
  });

  app.get("/pull-queues/:queue", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "ingress:read");
    requireOrganizationToken(auth);
    const queue = c.req.param("queue");
    if (!v.is(queueNameField, queue) || !mayUseQueue(auth, queue)) throw notFound();
    const found = await withTenant(ctx.sql, auth.orgId, async (tx) => {
      const row = await getPullQueue(tx, queue);
      return row && { row, stats: (await pullQueueStats(tx, [queue])).get(queue) };
    });
    if (!found) throw notFound();
    return c.json(presentQueue(found.row, found.stats, ctx.now()));
  });

  app.patch("/pull-queues/:queue", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "ingress:write");
    requireOrganizationToken(auth);
    const queue = c.req.param("queue");
    if (!v.is(queueNameField, queue) || !mayUseQueue(auth, queue)) throw notFound();
    const changes = await readJson(c, pullQueueUpdateBody);
    const updated = await updatePullQueue(ctx, auth.orgId, queue, changes, auditMeta(c));
    if (!updated) throw notFound();
    const stats = await withTenant(ctx.sql, auth.orgId, (tx) => pullQueueStats(tx, [queue]));
    return c.json(presentQueue(updated, stats.get(queue), ctx.now()));
  });

  return app;
}
