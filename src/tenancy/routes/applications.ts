/** `/v1/applications`: an organization's applications. Application tokens see only their own. */
import { Hono } from "hono";
import * as v from "valibot";
import type { AppContext } from "../../context.ts";
import { withTenant } from "../../db/tenant.ts";
import type { HttpEnv } from "../../http/env.ts";
import { descriptionField, exactObject, metadataField, nameField } from "../../http/fields.ts";
import { page, pageRequest, paginationQuery } from "../../http/pagination.ts";
import { ProblemError } from "../../http/problem.ts";
import { readJson, readQuery } from "../../http/validate.ts";
import { uidField } from "../applicationRefs.ts";
import { createApplication, deleteApplication, getApplication, listApplications, UidTakenError, updateApplication } from "../applications.ts";
import { auditMeta } from "../audit.ts";
import { requireOrganizationToken, requireScope } from "../authorize.ts";
import { applicationIdInPath } from "./applicationInPath.ts";
import { presentApplication } from "./present.ts";

export const applicationCreateBody = exactObject({
  name: nameField,
  /** Your own identifier for the application (your customer's id, say): any route naming the application takes it in place of the id. */
  uid: v.optional(v.nullable(uidField), null),
  description: v.optional(descriptionField, null),
  metadata: v.optional(metadataField, {}),
});
export const applicationUpdateBody = exactObject({
  name: v.optional(nameField),
  /** A new uid, or null to clear it (organization tokens only: an application token may send only the uid it has). */
  uid: v.optional(v.nullable(uidField)),
  description: v.optional(descriptionField),
  metadata: v.optional(metadataField),
});
export const applicationListQuery = exactObject(paginationQuery);
/** `?get_if_exists=true`: answer 200 with the live application that has the body's uid, if there is one. */
export const applicationCreateQuery = exactObject({
  get_if_exists: v.optional(
    v.pipe(
      v.picklist(["true", "false"], "expected true or false"),
      v.description("true: when a live application of the organization has the body's uid, answer it with 200 (unchanged, nothing recorded) instead of creating one (201). Needs `uid`."),
    ),
  ),
});
const notFound = () => new ProblemError("not-found", "no such application");

/** 409 `uid-taken`, naming the field. */
function uidTaken(error: UidTakenError): ProblemError {
  return new ProblemError("uid-taken", "another application of the organization has this uid", { errors: [{ field: "uid", message: error.message }] });
}

/** Runs an application command, answering a uid clash as `uid-taken`. */
async function uidClashAnswered<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof UidTakenError) throw uidTaken(error);
    throw error;
  }
}

export function applicationRoutes(ctx: AppContext): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();

  app.post("/applications", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "applications:write");
    requireOrganizationToken(auth);
    const query = readQuery(c, applicationCreateQuery);
    const body = await readJson(c, applicationCreateBody);
    const getIfExists = query.get_if_exists === "true";
    if (getIfExists && body.uid === null) {
      throw new ProblemError("validation", "get_if_exists needs a uid to look for", { errors: [{ field: "uid", message: "required with get_if_exists=true" }] });
    }
    const result = await uidClashAnswered(() => createApplication(ctx, auth.orgId, body, auditMeta(c), { getIfExists }));
    return c.json(presentApplication(result.application), result.created ? 201 : 200);
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
    const appId = await applicationIdInPath(ctx, c);
    const found = await withTenant(ctx.sql, auth.orgId, (tx) => getApplication(tx, appId));
    if (!found) throw notFound();
    return c.json(presentApplication(found));
  });

  app.patch("/applications/:app_id", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "applications:write");
    const appId = await applicationIdInPath(ctx, c);
    const body = await readJson(c, applicationUpdateBody);
    const updated = await uidClashAnswered(() => updateApplication(ctx, auth.orgId, appId, body, auditMeta(c), { uidChangeAllowed: auth.kind === "organization" }));
    if (!updated) throw notFound();
    return c.json(presentApplication(updated));
  });

  app.delete("/applications/:app_id", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "applications:write");
    const appId = await applicationIdInPath(ctx, c);
    requireOrganizationToken(auth);
    const meta = auditMeta(c, { reasonRequired: ctx.config.HOOKLEDGER_REQUIRE_AUDIT_REASON });
    if (!(await deleteApplication(ctx, auth.orgId, appId, meta))) throw notFound();
    return c.body(null, 204);
  });

  return app;
}
