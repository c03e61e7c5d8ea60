/** `/v1/applications`: an organization's applications. Application tokens see only their own. */
import { Hono } from "hono";
import * as v from "valibot";
import type { AppContext } from "../../context.ts";
import { withTenant } from "../../db/tenant.ts";
import type { HttpEnv } from "../../http/env.ts";
import { descriptionField, exactObject, metadataField, nameField } from "../../http/fields.ts";
import { page, pageRequest, paginationQuery } from "../../http/pagination.ts";
import { ProblemError } from "../../http/problem.ts";
import { readJson, readQuery, uuidParam } from "../../http/validate.ts";
import { createApplication, deleteApplication, getApplication, listApplications, updateApplication } from "../applications.ts";
import { auditMeta } from "../audit.ts";
import { requireAppAccess, requireOrganizationToken, requireScope } from "../authorize.ts";
import { presentApplication } from "./present.ts";

export const applicationCreateBody = exactObject({
  name: nameField,
  description: v.optional(descriptionField, null),
  metadata: v.optional(metadataField, {}),
});
export const applicationUpdateBody = exactObject({
  name: v.optional(nameField),
  description: v.optional(descriptionField),
  metadata: v.optional(metadataField),
});
export const applicationListQuery = exactObject(paginationQuery);
const notFound = () => new ProblemError("not-found", "no such application");

export function applicationRoutes(ctx: AppContext): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();

  app.post("/applications", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "applications:write");
    requireOrganizationToken(auth);
    const body = await readJson(c, applicationCreateBody);
    return c.json(presentApplication(await createApplication(ctx, auth.orgId, body, auditMeta(c))), 201);
  });

  app.get("/applications", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "applications:read");
    const query = readQuery(c, applicationListQuery);
    const { limit, cursor } = pageRequest(query, { k: "timestamp", id: "uuid" });
    const rows = await withTenant(ctx.sql, auth.orgId, (tx) =>
      listApplications(tx, { limit, after: cursor && { createdAt: cursor.k, id: cursor.id }, onlyAppId: auth.appId }),
    );
    const result = page(rows, limit, (row) => ({ k: row.created_at.toISOString(), id: row.id }));
    return c.json({ data: result.data.map(presentApplication), next_cursor: result.next_cursor });
  });

  app.get("/applications/:app_id", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "applications:read");
    const appId = uuidParam(c, "app_id");
    requireAppAccess(auth, appId);
    const found = await withTenant(ctx.sql, auth.orgId, (tx) => getApplication(tx, appId));
    if (!found) throw notFound();
    return c.json(presentApplication(found));
  });

  app.patch("/applications/:app_id", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "applications:write");
    const appId = uuidParam(c, "app_id");
    requireAppAccess(auth, appId);
    const body = await readJson(c, applicationUpdateBody);
    const updated = await updateApplication(ctx, auth.orgId, appId, body, auditMeta(c));
    if (!updated) throw notFound();
    return c.json(presentApplication(updated));
  });

  app.delete("/applications/:app_id", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "applications:write");
    const appId = uuidParam(c, "app_id");
    requireAppAccess(auth, appId);
    requireOrganizationToken(auth);
    const meta = auditMeta(c, { reasonRequired: ctx.config.HOOKLEDGER_REQUIRE_AUDIT_REASON });
    if (!(await deleteApplication(ctx, auth.orgId, appId, meta))) throw notFound();
    return c.body(null, 204);
  });

  return app;
}
