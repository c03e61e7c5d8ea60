/**
 * Who may publish to an ingress route by hand (POST /v1/ingress-routes/{route_id}/publish): the instance's
 * HOOKLEDGER_PUBLISH_* settings and the route's own `manual_publish`. Pure, so every rule is decided before
 * anything is written, and tested without a request.
 *
 * `X-Audit-Actor` and `X-Request-ID` requirements (require_actor, require_request_id) apply to every mutation and
 * are checked earlier, by tenancy/auditRequirements.ts.
 */
import type { Config } from "../config.ts";
import type { PolicyRule } from "../tenancy/auditRequirements.ts";
import type { IngressRouteRow } from "./routeStore.ts";

export interface PublishPolicy {
  /** Manual publish to routes that feed a pull queue (HOOKLEDGER_PUBLISH_QUEUE_ROUTES). */
  queueRoutes: boolean;
  /** Manual publish to routes that publish an event outbound (HOOKLEDGER_PUBLISH_OUTBOUND_ROUTES). */
  outboundRoutes: boolean;
  /** Exact actor names allowed to publish (HOOKLEDGER_PUBLISH_ACTOR_ALLOW). */
  actorAllow: readonly string[];
  /** Actor name prefixes allowed to publish (HOOKLEDGER_PUBLISH_ACTOR_PREFIX). */
  actorPrefix: readonly string[];
  /** Refuse when a rule cannot be decided, e.g. actor rules and no actor (HOOKLEDGER_PUBLISH_FAIL_CLOSED). */
  failClosed: boolean;
}

export const publishPolicyFrom = (config: Config): PublishPolicy => ({
  queueRoutes: config.HOOKLEDGER_PUBLISH_QUEUE_ROUTES,
  outboundRoutes: config.HOOKLEDGER_PUBLISH_OUTBOUND_ROUTES,
  actorAllow: config.HOOKLEDGER_PUBLISH_ACTOR_ALLOW,
  actorPrefix: config.HOOKLEDGER_PUBLISH_ACTOR_PREFIX,
  failClosed: config.HOOKLEDGER_PUBLISH_FAIL_CLOSED,
});

export type PublishDecision = { allowed: true } | { allowed: false; rule: PolicyRule; detail: string };

const allowed: PublishDecision = { allowed: true };
const refused = (rule: PolicyRule, detail: string): PublishDecision => ({ allowed: false, rule, detail });

/**
 * @example
 * decideManualPublish(policy, route, "deploy-ci"); // { allowed: true } or { allowed: false, rule: "actor_prefix", detail: "…" }
 */
export function decideManualPublish(
  policy: PublishPolicy,
  route: Pick<IngressRouteRow, "manual_publish" | "queue" | "publish_app_id">,
  actor: string | undefined,
): PublishDecision {
  if (!route.manual_publish) return refused("route_publish_disabled", "this route does not accept manual publishes (its manual_publish is false)");
  if (route.queue !== null && !policy.queueRoutes) {
    return refused("queue_routes_disabled", "manual publish to routes that feed a pull queue is off on this instance (HOOKLEDGER_PUBLISH_QUEUE_ROUTES)");
  }
  if (route.publish_app_id !== null && !policy.outboundRoutes) {
    return refused("outbound_routes_disabled", "manual publish to routes that publish outbound is off on this instance (HOOKLEDGER_PUBLISH_OUTBOUND_ROUTES)");
  }
  if (policy.actorAllow.length === 0 && policy.actorPrefix.length === 0) return allowed;
  if (actor === undefined) {
    return policy.failClosed ? refused("fail_closed", "the actor rules cannot be checked without X-Audit-Actor, and the policy fails closed (HOOKLEDGER_PUBLISH_FAIL_CLOSED)") : allowed;
  }
  if (policy.actorAllow.includes(actor) || policy.actorPrefix.some((prefix) => actor.startsWith(prefix))) return allowed;
  return policy.actorAllow.length === 0
    ? refused("actor_prefix", "the actor does not start with a prefix this instance allows (HOOKLEDGER_PUBLISH_ACTOR_PREFIX)")
    : refused("actor_allow", "the actor is not one this instance allows to publish (HOOKLEDGER_PUBLISH_ACTOR_ALLOW, HOOKLEDGER_PUBLISH_ACTOR_PREFIX)");
}
