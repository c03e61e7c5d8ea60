/**
 * Authorization rules shared by the tenancy routes (and later capabilities).
 * Another tenant's resources answer 404, never 403: a 403 would confirm they exist.
 */
import { ProblemError } from "../http/problem.ts";
import type { Principal } from "./principal.ts";
import { hasScope, type Scope } from "./scopes.ts";

export function requireScope(auth: Principal, scope: Scope): void {
  if (auth.kind === "instance_admin") {
    throw new ProblemError("forbidden", "the instance admin token manages organizations and their tokens; use an organization token for tenant resources");
  }
  if (!hasScope(auth.scopes, scope)) throw new ProblemError("forbidden", `this token lacks the ${scope} scope`, { required_scope: scope });
}

export function requireInstanceAdmin(auth: Principal): void {
  if (auth.kind !== "instance_admin") throw new ProblemError("forbidden", "only the instance admin token may do this");
}

/**
 * Whether the token may see a pull queue: a token created with `queues` sees those alone, on every route that
 * names a queue (pull, queue settings, dead letters, the console), and another queue answers as if it did not exist.
 */
export function mayUseQueue(auth: Principal, queue: string): boolean {
  return auth.queues === null || auth.queues.includes(queue);
}

/**
 * Ingress routes and their receipts are the organization's whole inbound traffic, every queue's included: a token
 * limited to queues (a consumer's) gets 403 on them, as an application token does. It read the receipts — the
 * bodies its other queues hold — through the routes that feed those queues.
 */
export function requireEveryQueue(auth: Principal): void {
  if (auth.queues !== null) throw new ProblemError("forbidden", "this token is limited to some pull queues; ingress routes and their receipts need a token for every queue");
}

/** Organization-level tokens only (application tokens cannot manage their organization). */
export function requireOrganizationToken(auth: Principal): void {
  if (auth.kind !== "organization") throw new ProblemError("forbidden", "only an organization token may do this");
}

/** The org a `/v1/organizations/{org_id}` route may act on: any for the instance admin, its own otherwise. */
export function requireOrgAccess(auth: Principal, orgId: string): void {
  if (auth.kind === "instance_admin") return;
  if (auth.orgId !== orgId) throw new ProblemError("not-found", "no such organization");
}

/** Application tokens see only their own application. */
export function requireAppAccess(auth: Principal, appId: string): void {
  if (auth.appId !== null && auth.appId !== appId) throw new ProblemError("not-found", "no such application");
}
