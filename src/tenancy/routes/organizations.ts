/** `/v1/organizations`: managed by the instance admin; an organization token may read and rename its own. */
import { Hono } from "hono";
import * as v from "valibot";
import type { AppContext } from "../../context.ts";
import type { HttpEnv } from "../../http/env.ts";
import { exactObject, metadataField, nameField } from "../../http/fields.ts";
import { decodeCursor, DEFAULT_LIMIT, page, paginationQuery } from "../../http/pagination.ts";
import { ProblemError } from "../../http/problem.ts";
import { readJson, readQuery, uuidParam } from "../../http/validate.ts";
import { withTenant } from "../../db/tenant.ts";
import { auditMeta } from "../audit.ts";
import { requireInstanceAdmin, requireOrganizationToken, requireOrgAccess } from "../authorize.ts";
import { createOrganization, deleteOrganization, getOrganization, listAllOrganizations, updateOrganization } from "../organizations.ts";
import { MAX_QUOTA } from "../quotas.ts";
import { hasScope } from "../scopes.ts";
import { presentOrganization } from "./present.ts";

export const organizationCreateBody = exactObject({ name: nameField, metadata: v.optional(metadataField, {}) });
const quotaValue = v.optional(
  v.pipe(v.number(), v.integer("expected a whole number"), v.minValue(0, "at least 0"), v.maxValue(MAX_QUOTA, `at most ${MAX_QUOTA} (the largest whole number a JSON number holds exactly)`)),
);
export const organizationUpdateBody = exactObject({
  name: v.optional(nameField),
  metadata: v.optional(metadataField),
  /** Instance admin only: days of delivery history kept (null = the instance default). */
  retention_days: v.optional(v.nullable(v.pipe(v.number(), v.integer("expected whole days"), v.minValue(1, "at least 1 day"), v.maxValue(3650, "at most 3650 days")))),
  /** Instance admin only: quota overrides, replacing earlier ones; omitted keys use the instance defaults. */
  quotas: v.optional(
    exactObject({ events_per_day: quotaValue, applications: quotaValue, subscriptions_per_application: quotaValue, ingress_routes: quotaValue }),
  ),
});
export const listQuery = exactObject(paginationQuery);
const notFound = () => new ProblemError("not-found", "no such organization");

export function organizationRoutes(ctx: AppContext): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();

  app.post("/organizations", async (c) => {
    requireInstanceAdmin(c.get("auth"));
    const body = await readJson(c, organizationCreateBody);
    return c.json(presentOrganization(await createOrganization(ctx, body, auditMeta(c))), 201);
  });

  app.get("/organizations", async (c) => {
    const auth = c.get("auth");
    // The organization is organization-level: an application token sees its application, not the organization.
    if (auth.kind !== "instance_admin") requireOrganizationToken(auth);
    const query = readQuery(c, listQuery);
    const limit = query.limit ?? DEFAULT_LIMIT;
    if (auth.kind !== "instance_admin") {
      const own = await withTenant(ctx.sql, auth.orgId, (tx) => getOrganization(tx, auth.orgId));
      return c.json({ data: own && !query.after ? [presentOrganization(own)] : [], next_cursor: null });
    }
    const cursor = decodeCursor(query.after, { k: "timestamp", id: "uuid" });
    const rows = await listAllOrganizations(ctx, { limit, after: cursor && { createdAt: cursor.k, id: cursor.id } });
    const result = page(rows, limit, (row) => ({ k: row.created_at.toISOString(), id: row.id }));
    return c.json({ data: result.data.map(presentOrganization), next_cursor: result.next_cursor });
  });

  app.get("/organizations/:org_id", async (c) => {
    const orgId = uuidParam(c, "org_id");
    const auth = c.get("auth");
    if (auth.kind !== "instance_admin") requireOrganizationToken(auth);
    requireOrgAccess(auth, orgId);
    const org = await withTenant(ctx.sql, orgId, (tx) => getOrganization(tx, orgId));
    if (!org) throw notFound();
    return c.json(presentOrganization(org));
  });

  app.patch("/organizations/:org_id", async (c) => {
    const auth = c.get("auth");
    const orgId = uuidParam(c, "org_id");
    requireOrgAccess(auth, orgId);
    if (auth.kind === "application" || (auth.kind === "organization" && !hasScope(auth.scopes, "admin"))) {
      throw new ProblemError("forbidden", "this token lacks the admin scope", { required_scope: "admin" });
    }
    const body = await readJson(c, organizationUpdateBody);
    if ((body.retention_days !== undefined || body.quotas !== undefined) && auth.kind !== "instance_admin") {
      throw new ProblemError("forbidden", "only the instance admin may change an organization's retention or quotas");
    }
    const org = await updateOrganization(ctx, orgId, body, auditMeta(c));
    if (!org) throw notFound();
    return c.json(presentOrganization(org));
  });

  app.delete("/organizations/:org_id", async (c) => {
    const auth = c.get("auth");
    const orgId = uuidParam(c, "org_id");
    requireOrgAccess(auth, orgId);
    requireInstanceAdmin(auth);
    const meta = auditMeta(c, { reasonRequired: ctx.config.HOOKLEDGER_REQUIRE_AUDIT_REASON });
    if (!(await deleteOrganization(ctx, orgId, meta))) throw notFound();
    return c.body(null, 204);
  });

  return app;
}
