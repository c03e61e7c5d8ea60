/**
 * Assembles the Hono application: cross-cutting middleware, then the routes the capabilities hand over (see
 * src/compose/app.ts). This folder knows no capability: their routes, their authentication and their OpenAPI
 * operations arrive as parameters.
 */
import { Hono, type Context, type MiddlewareHandler } from "hono";
import type { AppContext } from "../context.ts";
import { UnknownKeyError } from "../crypto/errors.ts";
import type { BodyBudget } from "./bodyBudget.ts";
import type { HttpEnv } from "./env.ts";
import { healthRoutes, type ReadinessProbe } from "./health.ts";
import { DatabaseDown } from "./databaseDown.ts";
import { clientClosedProblem, clientClosedRequest, databaseUnavailableProblem, lostRaceProblem, methodNotAllowed, ProblemError, problemResponse, secretUnavailableProblem } from "./problem.ts";
import { requestId } from "./requestId.ts";
import { securityHeaders } from "./securityHeaders.ts";
import { countRequests, metricsRoutes } from "../observability/metricsRoutes.ts";
import { traceRequests } from "../observability/requestSpans.ts";
import { openApiRoutes } from "./openapi/routes.ts";
import { serviceOperations } from "./openapi/operations.ts";
import type { Operation, WebhookDoc } from "./openapi/operation.ts";
import { accessLog } from "./accessLog.ts";
import { clientAddress, endedByTimeout, identityEncodingOnly, limitBody, limitTime, rateLimitByIp, rateLimitByToken } from "./limits.ts";
import { TokenBuckets } from "./rateLimit.ts";
import { TrieRouter } from "hono/router/trie-router";
import { noQueryWhereNoneDeclared } from "./queryless.ts";

/** Routes served under `mount` (`/in` → a route `/:route_id` answers `/in/:route_id`). */
export interface MountedRoutes {
  mount: string;
  routes: Hono<HttpEnv>;
}

/** A request that may carry a larger body than HOOKLEDGER_MAX_BODY_BYTES; checked before authentication. */
export interface LargeBody {
  method: string;
  /** Full path, `/v1/…`. */
  path: string;
  maxBytes: number;
}

/** Routes of the `/v1` API: their paths are relative to `/v1`. */
export interface ApiRoutes {
  routes: Hono<HttpEnv>;
  largeBodies?: readonly LargeBody[];
}

export interface AppOptions {
  ctx: AppContext;
  readiness: Omit<ReadinessProbe, "sql">;
  /** Resolved HOOKLEDGER_METRICS_TOKEN: /metrics answers it, or loopback clients when unset. */
  metricsToken?: string | undefined;
  /** Bearer-token authentication of every `/v1` request: sets `auth`, or answers 401. */
  authenticate: MiddlewareHandler<HttpEnv>;
  /** Doors for third parties (webhook senders) that authenticate requests themselves: per-IP limit and timeout only. */
  publicRoutes: readonly MountedRoutes[];
  apiRoutes: readonly ApiRoutes[];
  /** The operations of `publicRoutes` and `apiRoutes`, for /openapi.json (this app adds its own, /health…). */
  operations: readonly Operation[];
  /**
   * When some doors have listeners of their own: which door a request belongs to, and which doors moved. A
   * request answers 404 on every listener but its door's (the main one for doors that did not move).
   */
  /** The webhooks the service itself sends (operational events), for /openapi.json's `webhooks`. */
  webhooks?: readonly WebhookDoc[];
  listeners?: { doorOf(method: string, path: string): string; separate: ReadonlySet<string> } | undefined;
  /** Checks every `/v1` request passes after authentication and before any handler (audit requirements). */
  afterAuthentication?: MiddlewareHandler<HttpEnv> | undefined;
  /** Middleware every `/v1` request passes last, after the token's rate limit, around its handler (idempotency keys). */
  aroundHandlers?: readonly MiddlewareHandler<HttpEnv>[];
  /**
   * The process's budget of request bodies in memory (bodyBudget.ts): `/v1` bodies are held in it here, and the
   * public doors, which read their own bodies, are given the same budget where they are assembled.
   */
  bodyBudget: BodyBudget;
}

/** The request's path as sent (percent-encoded), for problem answers; Hono's decoded path when the URL does not parse. */
const pathOf = (c: Context<HttpEnv>): string => (URL.canParse(c.req.url) ? new URL(c.req.url).pathname : c.req.path);

const noRoute = (c: Context<HttpEnv>) => problemResponse(new ProblemError("not-found", `no route for ${c.req.method} ${pathOf(c)}`), pathOf(c), c.get("requestId"));

/**
 * Logs a request that needed a stored secret the keyring cannot open (secretUnavailableProblem): an error an operator
 * must fix, with the missing key's id when that is the reason; never the value. Not reported as a bug.
 */
export function logSecretUnavailable(ctx: Pick<AppContext, "log">, requestId: string | undefined, path: string, error: unknown): void {
  ctx.log.error("a stored secret cannot be opened with the encryption keyring; check HOOKLEDGER_ENCRYPTION_KEYS and run `hookledger reencrypt --dry-run`", {
    request_id: requestId,
    path,
    reason: error instanceof Error ? error.name : "unknown",
    ...(error instanceof UnknownKeyError ? { key_id: error.keyId } : {}),
  });
}

/**
 * A request whose URL does not parse — no Host (HTTP/1.0), or a Host such as `a b`, `[` or `u@a` — is refused first,
 * 400 naming the header: everything after reads `c.req.url` as a URL, and the error handler's own `new URL` threw
 * again, so the runtime answered 500 with its development error page (stack, source lines, paths) to anyone.
 */
function parseableUrl(): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    if (URL.canParse(c.req.url)) return next();
    return problemResponse(
      new ProblemError("validation", "the request has no usable Host header", { errors: [{ field: "header.Host", message: "expected a host name or address, and a port if any" }] }),
      requestTargetPath(c.req.url),
      c.get("requestId"),
    );
  };
}

/**
 * The path of a request URL that does not parse, up to its query: Bun hands such a request over with the request
 * target alone (`/health`), or a URL whose authority does not parse. Hono's `c.req.path` looks for the path's slash
 * a fixed distance after a scheme's colon, and read `/health` as "h" and `/v1/applications` as "/applications".
 */
const requestTargetPath = (url: string): string => /^(?:[a-z][a-z0-9+.-]*:\/\/[^/?#]*)?([^?#]*)/i.exec(url)?.[1] || "/";

/** Serves a request only on its door's listener; without separate listeners this middleware is not installed. */
function onlyOnItsListener(listeners: NonNullable<AppOptions["listeners"]>): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const door = listeners.doorOf(c.req.method, c.req.path);
    const servedBy = listeners.separate.has(door) ? door : "main";
    if ((c.env?.listener ?? "main") !== servedBy) return noRoute(c);
    await next();
  };
}

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
type RouteList = () => readonly { method: string; path: string }[];

/** The methods some route serves at a path (read from `routes` at the first call, once every route is registered). */
function methodsAt(routes: RouteList): (path: string) => string[] {
  let router: TrieRouter<string> | undefined;
  return (path) => {
    if (!router) {
      router = new TrieRouter<string>();
      for (const route of routes()) router.add(route.method, route.path, route.method);
    }
    const found = router;
    return METHODS.filter((method) => found.match(method, path)[0].length > 0);
  };
}

/**
 * HEAD never runs a capability's handler. Hono answers HEAD by running the GET handler and dropping its body, and
 * GET handlers may write: revealing a subscription's secret is audited, a portal link is spent on first use. So a
 * HEAD to any path the capabilities serve (`/v1`, the public doors) answers 405 with `Allow` (the methods that path
 * has), before authentication or any handler runs; the service's own read-only routes (/health, /ready, /metrics,
 * /openapi.json, /docs) keep answering HEAD.
 */
function refuseHead(routes: RouteList): MiddlewareHandler<HttpEnv> {
  const allowed = methodsAt(routes);
  return async (c, next) => {
    if (c.req.method !== "HEAD") return next();
    const methods = allowed(c.req.path);
    if (methods.length === 0) return next();
    throw methodNotAllowed("HEAD", methods);
  };
}

/** No route for the request: 405 with `Allow` when the path is served with other methods (RFC 9110 §15.5.6), else 404. */
function noRouteFor(routes: RouteList) {
  const allowed = methodsAt(routes);
  return (c: Context<HttpEnv>) => {
    const methods = allowed(c.req.path);
    if (methods.length === 0 || methods.includes(c.req.method)) return noRoute(c);
    return problemResponse(methodNotAllowed(c.req.method, methods), pathOf(c), c.get("requestId"));
  };
}

export function createApp({ ctx, readiness, metricsToken, authenticate, publicRoutes, apiRoutes, operations, webhooks, listeners, afterAuthentication, aroundHandlers = [], bodyBudget }: AppOptions): Hono<HttpEnv> {
  const { config } = ctx;
  const app = new Hono<HttpEnv>();
  app.use(requestId());
  // Before the URL check, so that its refusal carries them too.
  app.use(securityHeaders({ hsts: config.HOOKLEDGER_HSTS }));
  app.use(parseableUrl());
  if (ctx.tracing.enabled) app.use(traceRequests(ctx.tracing));
  app.use(clientAddress(config.HOOKLEDGER_TRUST_PROXY));
  app.use(countRequests(ctx.metrics));
  app.use(accessLog(ctx.log));
  if (listeners && listeners.separate.size > 0) app.use(onlyOnItsListener(listeners));

  app.route("/", healthRoutes({ sql: ctx.sql, ...readiness }));
  app.route("/", metricsRoutes(ctx.metrics, metricsToken));
  app.route("/", openApiRoutes([...serviceOperations, ...operations], webhooks));
  // Every route registered from here on is a capability's: HEAD is refused on their paths.
  const serviceRouteCount = app.routes.length;
  app.use(refuseHead(() => app.routes.slice(serviceRouteCount).filter((route) => route.method !== "ALL")));

  // One set of per-IP buckets for /v1 and the public doors: an address gets one budget, not one per door.
  const ipBuckets = new TokenBuckets(config.HOOKLEDGER_RATE_LIMIT_IP_RPS, config.HOOKLEDGER_RATE_LIMIT_IP_BURST);
  const databaseDown = new DatabaseDown();

  for (const door of publicRoutes) {
    app.use(`${door.mount}/*`, rateLimitByIp(ipBuckets), databaseDown.middleware(), limitTime(config.HOOKLEDGER_REQUEST_TIMEOUT_MS));
    app.route(door.mount, door.routes);
  }

  const v1 = new Hono<HttpEnv>();
  v1.use(rateLimitByIp(ipBuckets));
  v1.use(databaseDown.middleware());
  v1.use(limitTime(config.HOOKLEDGER_REQUEST_TIMEOUT_MS));
  v1.use(identityEncodingOnly());
  const bodyLimit = limitBody(config.HOOKLEDGER_MAX_BODY_BYTES, bodyBudget);
  const largeBodyLimits = new Map(apiRoutes.flatMap((api) => api.largeBodies ?? []).map((large) => [`${large.method} ${large.path}`, limitBody(large.maxBytes, bodyBudget)]));
  v1.use((c, next) => (largeBodyLimits.get(`${c.req.method} ${c.req.path}`) ?? bodyLimit)(c, next));
  v1.use(authenticate);
  v1.use(noQueryWhereNoneDeclared(operations));
  if (afterAuthentication) v1.use(afterAuthentication);
  v1.use(rateLimitByToken(new TokenBuckets(config.HOOKLEDGER_RATE_LIMIT_TOKEN_RPS, config.HOOKLEDGER_RATE_LIMIT_TOKEN_BURST)));
  for (const middleware of aroundHandlers) v1.use(middleware);
  for (const api of apiRoutes) v1.route("/", api.routes);
  app.route("/v1", v1);

  app.notFound(noRouteFor(() => app.routes.filter((route) => route.method !== "ALL")));
  app.onError((error, c) => {
    const path = pathOf(c);
    if (error instanceof ProblemError) return problemResponse(error, path, c.get("requestId"));
    // Before the database check: a client's ECONNRESET is not the database's. Logged at debug, never reported.
    const clientClosed = clientClosedProblem(error, c.req.raw) ?? (endedByTimeout(c, error) ? clientClosedRequest() : undefined);
    if (clientClosed) {
      ctx.log.debug("client closed the connection before the request was read", { request_id: c.get("requestId"), path });
      return problemResponse(clientClosed, path, c.get("requestId"));
    }
    const unavailable = databaseUnavailableProblem(error);
    if (unavailable) {
      databaseDown.noteError(error);
      return problemResponse(unavailable, path, c.get("requestId"));
    }
    const lostRace = lostRaceProblem(error);
    if (lostRace) {
      const { code, constraint_name: constraint } = error as { code?: string; constraint_name?: string };
      ctx.log.warn("request lost a race to a concurrent one", { request_id: c.get("requestId"), path, code, constraint });
      return problemResponse(lostRace, path, c.get("requestId"));
    }
    const unopened = secretUnavailableProblem(error);
    if (unopened) {
      logSecretUnavailable(ctx, c.get("requestId"), path, error);
      return problemResponse(unopened, path, c.get("requestId"));
    }
    ctx.log.error("unhandled error", { request_id: c.get("requestId"), path, error });
    ctx.errors.captureException(error, { requestId: c.get("requestId"), route: c.req.routePath });
    return problemResponse(new ProblemError("internal", "an unexpected error occurred; quote the request id when reporting it"), path, c.get("requestId"));
  });
  return app;
}
