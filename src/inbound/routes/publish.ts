/**
 * `POST /v1/ingress-routes/{route_id}/publish`: an operator injects a message by hand. The caller gives the body and
 * headers; the request is recorded as `ingress.received` (verification method `manual`, the caller as actor) and
 * then handled exactly like a received webhook — queued and/or published outbound — through the same receiver.
 *
 * The publish policy (publishPolicy.ts) is decided before anything is written; a refusal is a 403 naming the rule
 * and counts in `hookledger_policy_refusals_total`.
 */
import { Hono } from "hono";
import * as v from "valibot";
import type { AppContext } from "../../context.ts";
import { withTenant } from "../../db/tenant.ts";
import type { HttpEnv } from "../../http/env.ts";
import { base64Field, exactObject, exactRecord, HEADER_VALUE, HEADER_VALUE_RULE } from "../../http/fields.ts";
import { ProblemError } from "../../http/problem.ts";
import { readJson } from "../../http/validate.ts";
import { auditActor, auditMeta } from "../../tenancy/audit.ts";
import { policyRefusal, policyRefusals } from "../../tenancy/auditRequirements.ts";
import { requireEveryQueue, requireOrganizationToken, requireScope } from "../../tenancy/authorize.ts";
import { ROUTE_ID_PATTERN } from "../ids.ts";
import { decideManualPublish, publishPolicyFrom } from "../publishPolicy.ts";
import { createWebhookReceiver } from "../receive.ts";
import type { IngressRouteCache } from "../routeCache.ts";
import { getRoute } from "../routeStore.ts";
import type { AcceptedReceiptJson } from "./present.ts";

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;
const MAX_HEADERS = 100;

export const manualPublishBody = v.pipe(
  exactObject({
    headers: v.optional(
      exactRecord(
        v.record(
          v.pipe(v.string(), v.regex(HEADER_NAME, "expected an HTTP header name")),
          v.pipe(v.string("expected a header value"), v.maxLength(8192, "at most 8192 characters"), v.regex(HEADER_VALUE, HEADER_VALUE_RULE)),
        ),
        { maxEntries: MAX_HEADERS, message: `at most ${MAX_HEADERS} headers` },
      ),
      {},
    ),
    body: v.optional(v.string("expected the body as text")),
    body_base64: v.optional(base64Field),
  }),
  v.rawCheck(({ dataset, addIssue }) => {
    if (dataset.typed && dataset.value.body !== undefined && dataset.value.body_base64 !== undefined) {
      addIssue({ message: "give body (text) or body_base64 (bytes), not both", path: [{ type: "object", origin: "value", input: dataset.value, key: "body", value: dataset.value.body }] });
    }
    // An empty message is `"body": ""`, said on purpose: `{}` published one by accident.
    if (dataset.typed && dataset.value.body === undefined && dataset.value.body_base64 === undefined) {
      addIssue({ message: "give body (text) or body_base64 (bytes); an empty message is \"body\": \"\"", path: [{ type: "object", origin: "value", input: dataset.value, key: "body", value: undefined }] });
    }
  }),
);

const notFound = () => new ProblemError("not-found", "no such ingress route");

export function manualPublishRoutes(ctx: AppContext, routeCache: IngressRouteCache): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  const policy = publishPolicyFrom(ctx.config);
  const refusals = policyRefusals(ctx.metrics.registry);
  // A receiver of its own: manual publishes are rare, and the public door's group commits stay untouched.
  const receiver = createWebhookReceiver(ctx, routeCache);

  app.post("/ingress-routes/:route_id/publish", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "ingress:write");
    requireOrganizationToken(auth);
    requireEveryQueue(auth);
    const routeId = c.req.param("route_id");
    if (!ROUTE_ID_PATTERN.test(routeId)) throw notFound();
    const route = await withTenant(ctx.sql, auth.orgId, (tx) => getRoute(tx, routeId));
    if (!route) throw notFound();
    const decision = decideManualPublish(policy, route, auditActor(c));
    if (!decision.allowed) {
      refusals.inc({ rule: decision.rule });
      throw policyRefusal(decision.rule, decision.detail);
    }
    if (!route.enabled) throw new ProblemError("conflict", "the route is disabled; enable it to publish to it");
    const body = await readJson(c, manualPublishBody);
    const rawBody = body.body_base64 !== undefined ? new Uint8Array(Buffer.from(body.body_base64, "base64")) : new TextEncoder().encode(body.body ?? "");
    if (rawBody.byteLength > route.max_body_bytes) {
      throw new ProblemError("payload-too-large", `the body exceeds the route's ${route.max_body_bytes} bytes`, { max_bytes: route.max_body_bytes });
    }
    const receiptId = await receiver.publish({ orgId: auth.orgId, route, headers: new Headers(Object.entries(body.headers)), rawBody, meta: auditMeta(c) });
    const reply: AcceptedReceiptJson = { receipt_id: receiptId };
    return c.json(reply, 202);
  });

  return app;
}
