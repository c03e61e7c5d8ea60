/** `/v1/ingress-routes`: public receive endpoints, their secrets, rejection counters and received requests. */
import { Hono, type Context, type MiddlewareHandler } from "hono";
import * as v from "valibot";
import type { Config } from "../../config.ts";
import type { AppContext } from "../../context.ts";
import { withTenant } from "../../db/tenant.ts";
import type { HttpEnv } from "../../http/env.ts";
import { boundedArray, descriptionField, exactObject, nameField, timestampField } from "../../http/fields.ts";
import { jsonInTurns } from "../../http/jsonInTurns.ts";
import { page, pageRequest, paginationQuery } from "../../http/pagination.ts";
import { ProblemError } from "../../http/problem.ts";
import { answersSecretShownOnce } from "../../http/secretShownOnce.ts";
import { readJson, readQuery } from "../../http/validate.ts";
import { auditMeta } from "../../tenancy/audit.ts";
import { requireEveryQueue, requireOrganizationToken, requireScope } from "../../tenancy/authorize.ts";
import { authField, DEFAULT_MAX_BODY_BYTES, maxBodyBytesField, publishField, queueNameField, routePathField, secretBody, secretIdField } from "../fields.ts";
import { ROUTE_ID_PATTERN } from "../ids.ts";
import { createIngressRoute, deleteIngressRoute, RoutePathTakenError, updateIngressRoute, type RouteSpec } from "../ingressRoutes.ts";
import { IngressInputError } from "../inputError.ts";
import { listReceipts } from "../receiptStore.ts";
import type { IngressRouteCache } from "../routeCache.ts";
import { rejectionCounts } from "../rejections.ts";
import { addIngressRouteSecret, changeIngressRouteSecret, fetchSecretSpec, MAX_LIVE_SECRETS, removeIngressRouteSecret } from "../routeSecretCommands.ts";
import { listRouteSecrets } from "../routeSecrets.ts";
import { getRoute, listRoutes, type IngressRouteRow } from "../routeStore.ts";
import { presentReceipt, presentRoute, presentSecret, type CreatedRouteJson, type VerifiedReceiptJson } from "./present.ts";

const notFound = () => new ProblemError("not-found", "no such ingress route");

/** Request schemas of these routes, shared with the OpenAPI document. */
export function ingressRouteSchemas(config: Config) {
  const fields = {
    name: nameField,
    description: descriptionField,
    auth: authField(config),
    max_body_bytes: maxBodyBytesField(config),
    publish: publishField,
    queue: v.nullable(queueNameField),
    path: v.nullable(routePathField),
    enabled: v.boolean(),
    manual_publish: v.boolean(),
  };
  const create = exactObject({
    name: fields.name,
    description: v.optional(fields.description, null),
    auth: fields.auth,
    max_body_bytes: v.optional(fields.max_body_bytes, Math.min(DEFAULT_MAX_BODY_BYTES, config.HOOKLEDGER_INGRESS_MAX_BODY_BYTES)),
    publish: v.optional(fields.publish, null),
    queue: v.optional(fields.queue, null),
    path: v.optional(fields.path, null),
    enabled: v.optional(fields.enabled, true),
    manual_publish: v.optional(fields.manual_publish, true),
    secrets: v.optional(boundedArray(secretBody, MAX_LIVE_SECRETS, `at most ${MAX_LIVE_SECRETS} secrets`), []),
  });
  const update = exactObject({ ...v.partial(v.object(fields)).entries });
  const list = exactObject({ ...paginationQuery, queue: v.optional(queueNameField) });
  const secretWindow = exactObject({ valid_from: v.optional(timestampField), valid_until: v.optional(v.nullable(timestampField)) });
  const receipts = exactObject(paginationQuery);
  return { create, update, list, secret: secretBody, secretWindow, receipts };
}

/**
 * Runs a command, turning a field that does not fit the current state into a 400 naming it, and a custom path
 * another live route holds into a 409 naming `path`.
 */
async function naming<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof IngressInputError) throw new ProblemError("validation", "one or more fields are invalid", { errors: [{ field: error.field, message: error.message }] });
    if (error instanceof RoutePathTakenError) {
      throw new ProblemError("conflict", "another route of this organization has this path", { errors: [{ field: "path", message: "already in use" }] });
    }
    throw error;
  }
}

/** Refuses a forward-auth URL the egress policy would block, naming the rule (never an address learned from DNS). */
async function assertReachable(ctx: AppContext, auth: RouteSpec["auth"] | undefined): Promise<void> {
  if (auth?.type !== "forward") return;
  const decision = await ctx.egress.checkDestination(auth.url);
  if (decision.ok) return;
  throw new ProblemError("validation", "the forward-auth URL is not an allowed destination", {
    errors: [{ field: "auth.url", message: `refused by the egress policy (rule ${decision.rule})` }],
    rule: decision.rule,
  });
}

export function ingressRouteRoutes(ctx: AppContext, routeCache: IngressRouteCache): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  const schemas = ingressRouteSchemas(ctx.config);

  /**
   * After a change to a route or its secrets has committed, and before it is answered, this process drops its
   * cached copy: the client's next webhook may come before the change's notification (sql/074) does.
   */
  const forgetChangedRoute: MiddlewareHandler<HttpEnv> = async (c, next) => {
    await next();
    const routeId = c.req.param("route_id");
    if (c.req.method !== "GET" && routeId) routeCache.forget(c.get("auth").orgId, routeId);
  };
  // Hono's trailing `/*` also matches `/ingress-routes/{route_id}` itself: one registration covers the route and its secrets.
  app.use("/ingress-routes/:route_id/*", forgetChangedRoute);

  /**
   * Checks scope and that the token is an organization's (routes, their receipts included, belong to the
   * organization, not to one application: an application token read every raw webhook the organization received),
   * then loads the route or answers 404.
   */
  const load = async (c: Context<HttpEnv>, scope: "ingress:read" | "ingress:write"): Promise<IngressRouteRow> => {
    const auth = c.get("auth");
    requireScope(auth, scope);
    requireOrganizationToken(auth);
    requireEveryQueue(auth);
    const id = c.req.param("route_id") ?? "";
    if (!ROUTE_ID_PATTERN.test(id)) throw notFound();
    const found = await withTenant(ctx.sql, auth.orgId, (tx) => getRoute(tx, id));
    if (!found) throw notFound();
    return found;
  };

  app.post("/ingress-routes", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "ingress:write");
    requireOrganizationToken(auth);
    requireEveryQueue(auth);
    const { secrets, ...spec } = await readJson(c, schemas.create);
    await assertReachable(ctx, spec.auth);
    const created = await naming(async () => {
      const specs = await Promise.all(secrets.map((secret, i) => fetchSecretSpec(ctx, auth.orgId, secret, `secrets.${i}`)));
      return createIngressRoute(ctx, auth.orgId, spec, specs, auditMeta(c));
    });
    const reply: CreatedRouteJson = { ...presentRoute(created.route), secrets: created.secrets.map(presentSecret) };
    // A generated secret's value is in this answer only; given ones (a value or a reference) never are.
    if (created.secrets.some((secret) => secret.value !== undefined)) answersSecretShownOnce(c);
    return c.json(reply, 201);
  });

  app.get("/ingress-routes", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "ingress:read");
    requireOrganizationToken(auth);
    requireEveryQueue(auth);
    const query = readQuery(c, schemas.list);
    const { limit, cursor } = pageRequest(query, { k: "timestamp", id: "name" });
    const { rows, counts } = await withTenant(ctx.sql, auth.orgId, async (tx) => {
      const rows = await listRoutes(tx, { limit, after: cursor && { createdAt: cursor.k, id: cursor.id }, queue: query.queue });
      return { rows, counts: await rejectionCounts(tx, rows.map((row) => row.route_id)) };
    });
    const result = page(rows, limit, (row) => ({ k: row.created_at.toISOString(), id: row.route_id }));
    return c.json({ data: result.data.map((row) => presentRoute(row, { rejections: counts.get(row.route_id) })), next_cursor: result.next_cursor });
  });

  app.get("/ingress-routes/:route_id", async (c) => {
    const route = await load(c, "ingress:read");
    const details = await withTenant(ctx.sql, c.get("auth").orgId, async (tx) => ({
      secrets: await listRouteSecrets(tx, route.route_id),
      rejections: (await rejectionCounts(tx, [route.route_id])).get(route.route_id),
    }));
    return c.json(presentRoute(route, details));
  });

  app.patch("/ingress-routes/:route_id", async (c) => {
    const route = await load(c, "ingress:write");
    const changes = await readJson(c, schemas.update);
    await assertReachable(ctx, changes.auth);
    const updated = await naming(() => updateIngressRoute(ctx, c.get("auth").orgId, route.route_id, changes, auditMeta(c)));
    if (!updated) throw notFound();
    return c.json(presentRoute(updated));
  });

  app.delete("/ingress-routes/:route_id", async (c) => {
    const route = await load(c, "ingress:write");
    const meta = auditMeta(c, { reasonRequired: ctx.config.HOOKLEDGER_REQUIRE_AUDIT_REASON });
    if (!(await deleteIngressRoute(ctx, c.get("auth").orgId, route.route_id, meta))) throw notFound();
    return c.body(null, 204);
  });

  app.post("/ingress-routes/:route_id/secrets", async (c) => {
    const route = await load(c, "ingress:write");
    const body = await readJson(c, secretBody);
    const orgId = c.get("auth").orgId;
    const added = await naming(async () => addIngressRouteSecret(ctx, orgId, route.route_id, await fetchSecretSpec(ctx, orgId, body, ""), auditMeta(c)));
    if (!added) throw notFound();
    if (added.value !== undefined) answersSecretShownOnce(c);
    return c.json(presentSecret(added), 201);
  });

  app.patch("/ingress-routes/:route_id/secrets/:secret_id", async (c) => {
    const route = await load(c, "ingress:write");
    const secretId = c.req.param("secret_id");
    if (!v.is(secretIdField, secretId)) throw new ProblemError("not-found", "no such secret");
    const body = await readJson(c, schemas.secretWindow);
    const changed = await naming(() =>
      changeIngressRouteSecret(ctx, c.get("auth").orgId, route.route_id, secretId, { validFrom: body.valid_from, validUntil: body.valid_until }, auditMeta(c)),
    );
    if (!changed) throw new ProblemError("not-found", "no such secret");
    return c.json(presentSecret(changed));
  });

  app.delete("/ingress-routes/:route_id/secrets/:secret_id", async (c) => {
    const route = await load(c, "ingress:write");
    const secretId = c.req.param("secret_id");
    if (!v.is(secretIdField, secretId)) throw new ProblemError("not-found", "no such secret");
    const meta = auditMeta(c, { reasonRequired: ctx.config.HOOKLEDGER_REQUIRE_AUDIT_REASON });
    if (!(await removeIngressRouteSecret(ctx, c.get("auth").orgId, route.route_id, secretId, meta))) throw new ProblemError("not-found", "no such secret");
    return c.body(null, 204);
  });

  app.get("/ingress-routes/:route_id/receipts", async (c) => {
    const route = await load(c, "ingress:read");
    const query = readQuery(c, schemas.receipts);
    const { limit, cursor } = pageRequest(query, { k: "timestamp", id: "name" });
    const { rows, pageSize } = await withTenant(ctx.sql, c.get("auth").orgId, (tx) =>
      listReceipts(tx, route.route_id, { limit, after: cursor && { receivedAt: cursor.k, id: cursor.id } }),
    );
    const result = page(rows, pageSize, (row) => ({ k: row.received_at.toISOString(), id: row.receipt_id }));
    const data = result.data.map((row): VerifiedReceiptJson => ({ ...presentReceipt(row), verification: row.verification }));
    // Up to 8 MB of bodies a page: serialised a part at a time (jsonInTurns.ts).
    return jsonInTurns(c, { data, next_cursor: result.next_cursor }, "data");
  });

  return app;
}
