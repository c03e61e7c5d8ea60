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

const notFound = () => new ProblemError("not-found", "no such application");

/** The id of the application in the path parameter `name` (an id, used as it is, or a uid, read). */
export async function applicationIdInPath(ctx: AppContext, c: Context<HttpEnv>, name = "app_id"): Promise<string> {
  const auth = c.get("auth");
  const ref = appRefOf(c.req.param(name) ?? "");
  if (!ref) throw notFound();
  const appId = "id" in ref ? ref.id : await withTenant(ctx.sql, auth.orgId, (tx) => applicationIdOfUid(tx, ref.uid));
  if (appId === undefined) throw notFound();
  requireAppAccess(auth, appId);
  return appId;
}

/**
 * The id of the application a body field or list filter names (already checked by `appRefField`): undefined for a
 * uid no live application of the organization has; another application than an application token's own is 404.
 */
export async function applicationIdOfRef(ctx: AppContext, c: Context<HttpEnv>, ref: string): Promise<string | undefined> {
  const auth = c.get("auth");
  const parsed = appRefOf(ref);
  if (!parsed) return undefined;
  // An id needs no read (and no transaction): the route's own read finds whether it exists.
  const appId = "id" in parsed ? parsed.id : await withTenant(ctx.sql, auth.orgId, (tx) => applicationIdOfUid(tx, parsed.uid));
  if (appId !== undefined) requireAppAccess(auth, appId);
  return appId;
}
