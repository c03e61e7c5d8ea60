/**
 * `/v1/tokens` (an organization's tokens, managed with an admin-scoped organization token) and
 * `/v1/organizations/{org_id}/tokens` (how the instance admin issues an organization's first token).
 * The token string appears in the creation response only.
 */
import { Hono, type Context } from "hono";
import * as v from "valibot";
import type { AppContext } from "../../context.ts";
import { withTenant } from "../../db/tenant.ts";
import type { HttpEnv } from "../../http/env.ts";
import { boundedArray, exactObject, nameField, timestampField } from "../../http/fields.ts";
import { page, pageRequest, paginationQuery } from "../../http/pagination.ts";
import { ProblemError } from "../../http/problem.ts";
import { answersSecretShownOnce } from "../../http/secretShownOnce.ts";
import { readJson, readQuery, uuidParam } from "../../http/validate.ts";
import { appRefField } from "../applicationRefs.ts";
import { auditMeta } from "../audit.ts";
import { requireOrgAccess, requireOrganizationToken, requireScope } from "../authorize.ts";
import { getOrganization } from "../organizations.ts";
import { SCOPES } from "../scopes.ts";
import { createToken, revokeToken, UnknownApplicationError } from "../tokens.ts";
import { getToken, listTokens } from "../tokenStore.ts";
import { applicationIdIn, applicationIdOfRef } from "./applicationInPath.ts";
import { presentToken, type CreatedTokenJson } from "./present.ts";

export const tokenCreateBody = exactObject({
  label: nameField,
  scopes: v.pipe(
    // Scopes must not repeat, so no valid list is longer than the catalogue.
    boundedArray(v.picklist(SCOPES, `expected one of ${SCOPES.join(", ")}`), SCOPES.length, `at most ${SCOPES.length} scopes (each scope once)`, "expected an array of scopes"),
    v.minLength(1, "grant at least one scope"),
    v.check((scopes) => new Set(scopes).size === scopes.length, "scopes must not repeat"),
  ),
  /** An application token's application: its id, or its uid. */
  app_id: v.optional(v.nullable(appRefField), null),
  expires_at: v.optional(v.nullable(timestampField), null),
  /** Pull queues the token may use; omit for every queue. Same names as pull queues. */
  queues: v.optional(
    v.nullable(
      v.pipe(
        boundedArray(v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, "expected a pull queue name")), 50, "at most 50 queues"),
        v.minLength(1, "name at least one queue, or omit the field"),
        v.check((queues) => new Set(queues).size === queues.length, "queues must not repeat"),
      ),
    ),
    null,
  ),
});

export const tokenListQuery = exactObject({ ...paginationQuery, app_id: v.optional(appRefField) });
const notFound = () => new ProblemError("not-found", "no such token");
const unknownApplication = () => new ProblemError("validation", "the application does not exist", { errors: [{ field: "app_id", message: "no such application" }] });

export function tokenRoutes(ctx: AppContext): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();

  const create = async (c: Context<HttpEnv>, orgId: string) => {
    const body = await readJson(c, tokenCreateBody);
    if (body.expires_at && body.expires_at <= ctx.now()) {
      throw new ProblemError("validation", "the token would already be expired", { errors: [{ field: "expires_at", message: "must be in the future" }] });
    }
    const meta = auditMeta(c, { reasonRequired: ctx.config.HOOKLEDGER_REQUIRE_AUDIT_REASON });
    // A uid is read in the organization the token is for (the instance admin names it in the path).
    const appId = body.app_id === null ? null : await applicationIdIn(ctx, orgId, body.app_id);
    if (appId === undefined) throw unknownApplication();
    try {
      const created = await createToken(ctx, orgId, { label: body.label, scopes: body.scopes, appId, expiresAt: body.expires_at, queues: body.queues }, meta);
      const reply: CreatedTokenJson = { ...presentToken(created.details), token: created.token };
      answersSecretShownOnce(c);
      return c.json(reply, 201);
    } catch (error) {
      if (error instanceof UnknownApplicationError) throw unknownApplication();
      throw error;
    }
  };

  app.post("/organizations/:org_id/tokens", async (c) => {
    const auth = c.get("auth");
    const orgId = uuidParam(c, "org_id");
    requireOrgAccess(auth, orgId);
    if (auth.kind !== "instance_admin") {
      requireScope(auth, "admin");
      requireOrganizationToken(auth);
    }
    const org = await withTenant(ctx.sql, orgId, (tx) => getOrganization(tx, orgId));
    if (!org) throw new ProblemError("not-found", "no such organization");
    return create(c, orgId);
  });

  app.post("/tokens", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "admin");
    requireOrganizationToken(auth);
    return create(c, auth.orgId);
  });

  app.get("/tokens", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "admin");
    requireOrganizationToken(auth);
    const query = readQuery(c, tokenListQuery);
    const { limit, cursor } = pageRequest(query, { k: "timestamp", id: "uuid" });
    const appId = query.app_id === undefined ? undefined : await applicationIdOfRef(ctx, c, query.app_id);
    // A uid no application has: no token is of it.
    if (query.app_id !== undefined && appId === undefined) return c.json({ data: [], next_cursor: null });
    const rows = await withTenant(ctx.sql, auth.orgId, (tx) =>
      listTokens(tx, { limit, after: cursor && { createdAt: cursor.k, id: cursor.id }, appId }),
    );
    const result = page(rows, limit, (row) => ({ k: row.created_at.toISOString(), id: row.token_id }));
    return c.json({ data: result.data.map(presentToken), next_cursor: result.next_cursor });
  });

  app.get("/tokens/:token_id", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "admin");
    requireOrganizationToken(auth);
    const tokenId = uuidParam(c, "token_id");
    const row = await withTenant(ctx.sql, auth.orgId, (tx) => getToken(tx, tokenId));
    if (!row) throw notFound();
    return c.json(presentToken(row));
  });

  app.delete("/tokens/:token_id", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "admin");
    requireOrganizationToken(auth);
    const tokenId = uuidParam(c, "token_id");
    const meta = auditMeta(c, { reasonRequired: ctx.config.HOOKLEDGER_REQUIRE_AUDIT_REASON });
    const row = await revokeToken(ctx, auth.orgId, tokenId, meta);
    if (!row) throw notFound();
    return c.json(presentToken(row));
  });

  return app;
}
