/**
 * What every mutation must carry when the instance's policy says so: `X-Audit-Actor`
 * (HOOKLEDGER_PUBLISH_REQUIRE_ACTOR) and a well-formed `X-Request-ID` (HOOKLEDGER_PUBLISH_REQUIRE_REQUEST_ID).
 * Checked after authentication and before any handler, so a refused request writes nothing; each refusal is a 403
 * problem naming the rule and counts in `hookledger_policy_refusals_total{rule}`.
 *
 * `X-Audit-Reason` (HOOKLEDGER_REQUIRE_AUDIT_REASON) stays where it was, in auditMeta: it applies to deletes and
 * token operations only, which the handlers know and this middleware does not.
 */
import type { MiddlewareHandler } from "hono";
import { Counter, type Registry } from "prom-client";
import type { Config } from "../config.ts";
import type { HttpEnv } from "../http/env.ts";
import { ProblemError } from "../http/problem.ts";
import { isWellFormedRequestId } from "../http/requestId.ts";
import { auditActor } from "./audit.ts";

export type PolicyRule =
  | "require_actor"
  | "require_request_id"
  | "actor_allow"
  | "actor_prefix"
  | "fail_closed"
  | "route_publish_disabled"
  | "queue_routes_disabled"
  | "outbound_routes_disabled";

export type PolicyRefusals = Counter<"rule">;

const countersByRegistry = new WeakMap<Registry, PolicyRefusals>();

/** The refusal counter of a metrics registry, created once per registry. */
export function policyRefusals(registry: Registry): PolicyRefusals {
  let counter = countersByRegistry.get(registry);
  if (!counter) {
    counter = new Counter({ name: "hookledger_policy_refusals_total", help: "Requests refused by the publish and audit policy, by rule.", labelNames: ["rule"], registers: [registry] });
    countersByRegistry.set(registry, counter);
  }
  return counter;
}

/**
 * The 403 of a policy rule: `rule` names it (the setting's rule, e.g. `require_actor`), `errors` the header when
 * one is to blame.
 */
export function policyRefusal(rule: PolicyRule, detail: string, header?: string): ProblemError {
  return new ProblemError("forbidden", detail, { rule, ...(header ? { errors: [{ field: `header.${header}`, message: `required by the instance's policy (${rule})` }] } : {}) });
}

const READS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * The middleware, or undefined when neither requirement is on: then no request pays for it.
 *
 * @example
 * createApp({ …, afterAuthentication: auditRequirements(config, policyRefusals(metrics.registry)) });
 */
export function auditRequirements(config: Config, refusals: PolicyRefusals): MiddlewareHandler<HttpEnv> | undefined {
  const requireActor = config.HOOKLEDGER_PUBLISH_REQUIRE_ACTOR;
  const requireRequestId = config.HOOKLEDGER_PUBLISH_REQUIRE_REQUEST_ID;
  if (!requireActor && !requireRequestId) return undefined;
  return async (c, next) => {
    if (!READS.has(c.req.method)) {
      if (requireActor && auditActor(c) === undefined) {
        refusals.inc({ rule: "require_actor" });
        throw policyRefusal("require_actor", "every change must name its actor in X-Audit-Actor", "X-Audit-Actor");
      }
      if (requireRequestId && !isWellFormedRequestId(c.req.header("x-request-id"))) {
        refusals.inc({ rule: "require_request_id" });
        throw policyRefusal("require_request_id", "every change must carry a well-formed X-Request-ID (8-128 of letters, digits, . _ : -)", "X-Request-ID");
      }
    }
    await next();
  };
}
