/**
 * The application a request names, by id or uid (tenancy/applicationRefs.ts), as the id every command takes, checked
 * against what the caller may see: another organization's application, or another application than an application
 * token's own, is not found, exactly as an unknown id is.
 */
import type { Context } from "hono";
import type { AppContext } from "../../context.ts";
import { withTenant } from "../../db/tenant.ts";
import type { HttpEnv } from "../../http/env.ts";
import { ProblemError } from "../../http/problem.ts";
import { appRefOf, applicationIdOfUid } from "../applicationRefs.ts";
import { requireAppAccess } from "../authorize.ts";

/**
 * The id `ref` names in the organization: an id as it is, with no read and no transaction (the route's own read
 * finds whether it exists), a uid by one read; undefined for a uid no live application has, or a malformed ref.
 */
export async function applicationIdIn(ctx: AppContext, orgId: string, ref: string): Promise<string | undefined> {
  const parsed = appRefOf(ref);
  if (!parsed) return undefined;
  return "id" in parsed ? parsed.id : withTenant(ctx.sql, orgId, (tx) => applicationIdOfUid(tx, parsed.uid));
}

/** The id of the application in the path parameter `name`, which the caller may see; 404 otherwise. */
export async function applicationIdInPath(ctx: AppContext, c: Context<HttpEnv>, name = "app_id"): Promise<string> {
  const auth = c.get("auth");
  const appId = await applicationIdIn(ctx, auth.orgId, c.req.param(name) ?? "");
  if (appId === undefined) throw new ProblemError("not-found", "no such application");
  requireAppAccess(auth, appId);
  return appId;
}

/**
 * The id of the application a body field or list filter names (already checked by `appRefField`): undefined for a
 * uid no live application of the organization has; another application than an application token's own is 404.
 */
export async function applicationIdOfRef(ctx: AppContext, c: Context<HttpEnv>, ref: string): Promise<string | undefined> {
  const auth = c.get("auth");
  const appId = await applicationIdIn(ctx, auth.orgId, ref);
  if (appId !== undefined) requireAppAccess(auth, appId);
  return appId;
}
