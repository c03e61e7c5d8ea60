/** `/v1/subscriptions`: endpoints, their secrets, enable/disable, test, recover and delivery lists. */
import { Hono, type Context } from "hono";
import * as v from "valibot";
import type { AppContext } from "../../context.ts";
import type { Config } from "../../config.ts";
import { withTenant } from "../../db/tenant.ts";
import type { HttpEnv } from "../../http/env.ts";
import { boundedArray, descriptionField, exactObject, metadataField, timestampField } from "../../http/fields.ts";
import { page, pageRequest, paginationQuery } from "../../http/pagination.ts";
import { ProblemError } from "../../http/problem.ts";
import { isoOrNull } from "../../http/responses.ts";
import { answersSecretShownOnce } from "../../http/secretShownOnce.ts";
import { readJson, readNoBody, readOptionalJson, readQuery, uuidParam } from "../../http/validate.ts";
import { auditMeta } from "../../tenancy/audit.ts";
import { appRefField } from "../../tenancy/applicationRefs.ts";
import { requireScope } from "../../tenancy/authorize.ts";
import { applicationIdOfRef } from "../../tenancy/routes/applicationInPath.ts";
import { countDeliveriesOfSubscription, DELIVERY_STATUSES, listDeliveriesOfSubscription } from "../deliveryStore.ts";
import { MIN_RATE_PER_SECOND } from "../endpointPacing.ts";
import { channelsField, customHeadersField, eventTypeNameField, eventTypePatternsField, labelsField, signatureSchemeField, signedHeadersField, signingSecretField, SIGNABLE_BUILTIN_HEADERS, urlField } from "../fields.ts";
import { REDACTED } from "../headerRedaction.ts";
import { recoverSubscription, replayMissing, RetryError } from "../replay.ts";
import { headersWithSealedAs } from "../sealedHeaders.ts";
import { getSubscription, listSubscriptions, type SubscriptionRow } from "../subscriptionStore.ts";
import {
  createSubscription,
  deleteSubscription,
  revealSubscriptionSecret,
  rotateSubscriptionSecret,
  setSubscriptionEnabled,
  UnknownApplicationError,
  updateSubscription,
} from "../subscriptions.ts";
import { testSubscription, TestExampleError } from "../subscriptionTest.ts";
import {
  presentAttempt,
  presentDelivery,
  presentSubscription,
  type CreatedSubscriptionJson,
  type RecoveredJson,
  type ReplayedMissingJson,
  type RotatedSecretJson,
  type SubscriptionSecretJson,
  type SubscriptionStatsJson,
} from "./present.ts";

const notFound = () => new ProblemError("not-found", "no such subscription");

/** Request schemas; their limits come from configuration (the OpenAPI document shows the running ones). */
export function subscriptionSchemas(config: Config) {
  const maxTimeout = config.HOOKLEDGER_EGRESS_TIMEOUT_MS;
  const minDelay = config.HOOKLEDGER_MIN_RETRY_DELAY_MS / 1000;
  const fields = {
    url: urlField,
    event_types: eventTypePatternsField,
    labels: labelsField,
    // [] and null both mean none (a PATCH with either clears them).
    channels: v.pipe(
      v.nullable(channelsField),
      v.description("1-10 channel names (Svix's), none twice: the subscription then receives only events that carry at least one of them. null or []: none (events whatever their channels)."),
      v.transform((channels) => (channels && channels.length > 0 ? channels : null)),
    ),
    headers: customHeadersField,
    description: descriptionField,
    metadata: metadataField,
    signature_scheme: signatureSchemeField,
    signed_headers: signedHeadersField,
    retry_schedule: v.nullable(
      v.pipe(
        boundedArray(
          v.pipe(v.number("expected seconds as a number"), v.minValue(minDelay, `each delay must be at least ${minDelay} s`), v.maxValue(7 * 86400, "each delay must be at most 7 days")),
          100,
          "at most 100 delays",
        ),
        v.minLength(1, "give at least one delay, or null for the default schedule"),
      ),
    ),
    max_attempts: v.pipe(v.number(), v.integer("expected a whole number"), v.minValue(1, "at least 1"), v.maxValue(100, "at most 100")),
    timeout_ms: v.pipe(v.number(), v.integer("expected a whole number"), v.minValue(100, "at least 100 ms"), v.maxValue(maxTimeout, `at most ${maxTimeout} ms (HOOKLEDGER_EGRESS_TIMEOUT_MS)`)),
    max_concurrency: v.nullable(v.pipe(v.number(), v.integer("expected a whole number"), v.minValue(1, "at least 1"), v.maxValue(1000, "at most 1000"))),
    rate_limit_per_second: v.nullable(v.pipe(v.number("expected deliveries per second"), v.minValue(MIN_RATE_PER_SECOND, `at least ${MIN_RATE_PER_SECOND} (one delivery every ${1 / MIN_RATE_PER_SECOND} s)`), v.maxValue(10000, "at most 10000"))),
    send_traceparent: v.boolean("expected true or false"),
  };
  const create = exactObject({
    /** The application's id, or its uid. */
    app_id: appRefField,
    url: fields.url,
    // Left out: every event type (`["*"]`), as a Svix endpoint without filterTypes gets every message.
    event_types: v.optional(fields.event_types, ["*"]),
    labels: v.optional(fields.labels, {}),
    channels: v.optional(fields.channels, null),
    headers: v.optional(fields.headers, {}),
    description: v.optional(fields.description, null),
    metadata: v.optional(fields.metadata, {}),
    enabled: v.optional(v.boolean(), true),
    signature_scheme: v.optional(fields.signature_scheme, "standard-webhooks"),
    signed_headers: v.optional(fields.signed_headers, []),
    retry_schedule: v.optional(fields.retry_schedule, null),
    max_attempts: v.optional(fields.max_attempts, config.HOOKLEDGER_MAX_ATTEMPTS),
    timeout_ms: v.optional(fields.timeout_ms, Math.min(config.HOOKLEDGER_DELIVERY_TIMEOUT_MS, maxTimeout)),
    max_concurrency: v.optional(fields.max_concurrency, null),
    rate_limit_per_second: v.optional(fields.rate_limit_per_second, null),
    send_traceparent: v.optional(fields.send_traceparent, false),
    secret: v.optional(signingSecretField),
  });
  const update = exactObject({ ...v.partial(v.object(fields)).entries });
  const list = exactObject({ ...paginationQuery, app_id: v.optional(appRefField), enabled: v.optional(v.picklist(["true", "false"])) });
  const rotate = exactObject({
    overlap_seconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0, "at least 0"), v.maxValue(30 * 86400, "at most 30 days")), 86400),
    secret: v.optional(signingSecretField),
  });
  // recover and replay-missing: deliveries created (events received) in [since, until).
  const recover = exactObject({ since: timestampField, until: v.optional(timestampField) });
  // Sent instead of the ping: an example of one of the application's event types (its payload optional).
  const test = exactObject({ event_type: v.optional(eventTypeNameField), payload: v.optional(v.unknown()) });
  const deliveries = exactObject({ ...paginationQuery, status: v.optional(v.picklist(DELIVERY_STATUSES)), since: v.optional(timestampField) });
  // stats: deliveries created in [since, until); until defaults to now, since to STATS_DEFAULT_DAYS before it.
  const stats = exactObject({ since: v.optional(timestampField), until: v.optional(timestampField) });
  return { create, update, list, rotate, recover, test, deliveries, stats };
}

/** The window `GET …/stats` counts when not told (Svix's endpoint stats count the last 28 days too). */
const STATS_DEFAULT_DAYS = 28;
/** The widest window it counts: a year (history is pruned long before, by default). */
const STATS_MAX_DAYS = 366;
const DAY_MS = 86_400_000;
const EARLIEST_INSTANT = Date.parse("0001-01-01T00:00:00Z");

/** The stats window asked for, or a 400 naming the field that makes it empty or too wide. */
function statsWindow(query: { since?: Date | undefined; until?: Date | undefined }, now: Date): { since: Date; until: Date } {
  const until = query.until ?? now;
  // Not before year 1 (PostgreSQL has no year 0): an `until` in January of year 1 counts from its start.
  const since = query.since ?? new Date(Math.max(until.getTime() - STATS_DEFAULT_DAYS * DAY_MS, EARLIEST_INSTANT));
  const problem = (field: string, message: string) => new ProblemError("validation", "the window to count is not usable", { errors: [{ field: `query.${field}`, message }] });
  if (since >= until) throw problem(query.since ? "since" : "until", "since must be before until");
  if (until.getTime() - since.getTime() > STATS_MAX_DAYS * DAY_MS) throw problem("since", `the window is at most ${STATS_MAX_DAYS} days`);
  return { since, until };
}

/** Signed headers must be ones the request will carry. */
function assertSignableHeaders(signed: string[], headers: Record<string, string>): void {
  const unknown = signed.filter((name) => !SIGNABLE_BUILTIN_HEADERS.includes(name) && !Object.hasOwn(headers, name));
  if (unknown.length > 0) {
    throw new ProblemError("validation", "signed headers must be sent with every delivery", {
      errors: [{ field: "signed_headers", message: `not sent with deliveries: ${unknown.join(", ")}; sign custom headers or ${SIGNABLE_BUILTIN_HEADERS.join(", ")}` }],
    });
  }
}

/** Refuses a URL the egress policy would block, naming the rule (and never an address learned from DNS). */
export async function assertDeliverable(ctx: AppContext, url: string): Promise<void> {
  const decision = await ctx.egress.checkDestination(url);
  if (decision.ok) return;
  const message = decision.rule.startsWith("default:") || decision.rule === "dns" || decision.rule === "timeout"
    ? `the destination is refused by the egress policy (rule ${decision.rule})`
    : `refused by the egress policy (rule ${decision.rule}): ${decision.detail}`;
  throw new ProblemError("validation", "the URL is not an allowed delivery destination", { errors: [{ field: "url", message }], rule: decision.rule });
}

export function subscriptionRoutes(ctx: AppContext): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  const schemas = subscriptionSchemas(ctx.config);

  /** Loads a subscription the caller may see, or answers 404. */
  const load = async (c: Context<HttpEnv>): Promise<SubscriptionRow> => {
    const auth = c.get("auth");
    const id = uuidParam(c, "subscription_id");
    const found = await withTenant(ctx.sql, auth.orgId, (tx) => getSubscription(tx, id));
    if (!found || (auth.appId !== null && auth.appId !== found.app_id)) throw notFound();
    return found;
  };

  app.post("/subscriptions", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "subscriptions:write");
    const body = await readJson(c, schemas.create);
    const unknownApplication = () => new ProblemError("validation", "the application does not exist", { errors: [{ field: "app_id", message: "no such application" }] });
    const app_id = await applicationIdOfRef(ctx, c, body.app_id);
    if (app_id === undefined) throw unknownApplication();
    assertSignableHeaders(body.signed_headers, body.headers);
    await assertDeliverable(ctx, body.url);
    const { app_id: _ref, secret, ...fields } = body;
    try {
      const created = await createSubscription(ctx, auth.orgId, { ...fields, appId: app_id, ...(secret ? { secret } : {}) }, auditMeta(c));
      // The signing secret (generated or given) and the custom header values, both shown in this answer only.
      const reply: CreatedSubscriptionJson = { ...presentSubscription(created.subscription, { revealedHeaders: created.headers }), secret: created.secret };
      answersSecretShownOnce(c);
      return c.json(reply, 201);
    } catch (error) {
      if (error instanceof UnknownApplicationError) throw unknownApplication();
      throw error;
    }
  });

  app.get("/subscriptions", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "subscriptions:read");
    const query = readQuery(c, schemas.list);
    const appId = query.app_id === undefined ? undefined : await applicationIdOfRef(ctx, c, query.app_id);
    const { limit, cursor } = pageRequest(query, { k: "timestamp", id: "uuid" });
    // A uid no application has: no subscription is of it.
    if (query.app_id !== undefined && appId === undefined) return c.json({ data: [], next_cursor: null });
    const rows = await withTenant(ctx.sql, auth.orgId, (tx) =>
      listSubscriptions(tx, {
        limit,
        appId: auth.appId ?? appId,
        after: cursor && { createdAt: cursor.k, id: cursor.id },
        enabled: query.enabled === undefined ? undefined : query.enabled === "true",
      }),
    );
    const result = page(rows, limit, (row) => ({ k: row.created_at.toISOString(), id: row.subscription_id }));
    return c.json({ data: result.data.map((row) => presentSubscription(row)), next_cursor: result.next_cursor });
  });

  app.get("/subscriptions/:subscription_id", async (c) => {
    requireScope(c.get("auth"), "subscriptions:read");
    return c.json(presentSubscription(await load(c)));
  });

  app.patch("/subscriptions/:subscription_id", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "subscriptions:write");
    const current = await load(c);
    const changes = await readJson(c, schemas.update);
    assertSignableHeaders(changes.signed_headers ?? current.signed_headers, changes.headers ?? headersWithSealedAs(current, REDACTED));
    if (changes.url) await assertDeliverable(ctx, changes.url);
    const updated = await updateSubscription(ctx, auth.orgId, current.subscription_id, changes, auditMeta(c));
    if (!updated) throw notFound();
    return c.json(presentSubscription(updated));
  });

  app.delete("/subscriptions/:subscription_id", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "subscriptions:write");
    const current = await load(c);
    const meta = auditMeta(c, { reasonRequired: ctx.config.HOOKLEDGER_REQUIRE_AUDIT_REASON });
    if (!(await deleteSubscription(ctx, auth.orgId, current.subscription_id, meta))) throw notFound();
    return c.body(null, 204);
  });

  for (const [action, enabled] of [["enable", true], ["disable", false]] as const) {
    app.post(`/subscriptions/:subscription_id/${action}`, async (c) => {
      const auth = c.get("auth");
      requireScope(auth, "subscriptions:write");
      await readNoBody(c);
      const current = await load(c);
      const updated = await setSubscriptionEnabled(ctx, auth.orgId, current.subscription_id, enabled, auditMeta(c));
      if (!updated) throw notFound();
      return c.json(presentSubscription(updated));
    });
  }

  app.get("/subscriptions/:subscription_id/secret", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "subscriptions:write");
    const current = await load(c);
    const revealed = await revealSubscriptionSecret(ctx, auth.orgId, current.subscription_id, auditMeta(c, { reasonRequired: ctx.config.HOOKLEDGER_REQUIRE_AUDIT_REASON }));
    if (!revealed) throw notFound();
    const reply: SubscriptionSecretJson = { key_id: revealed.keyId, secret: revealed.secret };
    return c.json(reply);
  });

  app.post("/subscriptions/:subscription_id/secret/rotate", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "subscriptions:write");
    const current = await load(c);
    const body = await readOptionalJson(c, schemas.rotate);
    const meta = auditMeta(c, { reasonRequired: ctx.config.HOOKLEDGER_REQUIRE_AUDIT_REASON });
    const rotated = await rotateSubscriptionSecret(ctx, auth.orgId, current.subscription_id, { overlapSeconds: body.overlap_seconds, ...(body.secret ? { secret: body.secret } : {}) }, meta);
    if (!rotated) throw notFound();
    const reply: RotatedSecretJson = { key_id: rotated.keyId, secret: rotated.secret, previous_secret_expires_at: isoOrNull(rotated.previousExpiresAt) };
    answersSecretShownOnce(c);
    return c.json(reply);
  });

  app.post("/subscriptions/:subscription_id/test", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "subscriptions:write");
    const body = await readOptionalJson(c, schemas.test);
    if (body.payload !== undefined && body.event_type === undefined) {
      throw new ProblemError("validation", "a test payload needs its event type", { errors: [{ field: "event_type", message: "required with payload" }] });
    }
    const current = await load(c);
    if (!current.enabled) throw new ProblemError("conflict", "the subscription is disabled; enable it to test it");
    let outcome: Awaited<ReturnType<typeof testSubscription>>;
    try {
      const example = body.event_type === undefined ? undefined : { eventType: body.event_type, payload: body.payload };
      outcome = await testSubscription(ctx, auth.orgId, current.subscription_id, auditMeta(c), example);
    } catch (error) {
      if (error instanceof TestExampleError) throw new ProblemError("unprocessable", "the test example cannot be sent", { errors: error.errors });
      throw error;
    }
    if (!outcome) throw notFound();
    if (outcome.kind !== "attempted") throw new ProblemError("conflict", `the test was not sent: ${outcome.reason}`);
    return c.json(presentAttempt(outcome.attempt));
  });

  app.post("/subscriptions/:subscription_id/recover", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "subscriptions:write");
    const current = await load(c);
    const window = await readWindow(c);
    try {
      const result = await recoverSubscription(ctx, auth.orgId, current.subscription_id, window, auditMeta(c));
      const reply: RecoveredJson = { deliveries_requeued: result.deliveries, remaining: result.remaining };
      return c.json(reply, 202);
    } catch (error) {
      throw windowProblem(error, "recovering its deliveries");
    }
  });

  app.post("/subscriptions/:subscription_id/replay-missing", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "subscriptions:write");
    const current = await load(c);
    const window = await readWindow(c);
    try {
      const result = await replayMissing(ctx, auth.orgId, current.subscription_id, window, auditMeta(c));
      const reply: ReplayedMissingJson = { deliveries_scheduled: result.deliveries, remaining: result.remaining };
      return c.json(reply, 202);
    } catch (error) {
      throw windowProblem(error, "replaying what it missed");
    }
  });

  /** The body of recover and replay-missing: a window that is not empty. */
  async function readWindow(c: Context<HttpEnv>): Promise<{ since: Date; until: Date | undefined }> {
    const body = await readJson(c, schemas.recover);
    if (body.until && body.until <= body.since) {
      throw new ProblemError("validation", "the window is empty", { errors: [{ field: "until", message: "must be later than since" }] });
    }
    return { since: body.since, until: body.until };
  }

  /** What a subscription that went away or was disabled meanwhile answers; other errors as they are. */
  function windowProblem(error: unknown, doing: string): unknown {
    if (!(error instanceof RetryError)) return error;
    if (error.failure === "subscription_disabled") return new ProblemError("conflict", `the subscription is disabled; enable it before ${doing}`);
    return notFound();
  }

  app.get("/subscriptions/:subscription_id/stats", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "events:read");
    const current = await load(c);
    const window = statsWindow(readQuery(c, schemas.stats), ctx.now());
    const deliveries = await withTenant(ctx.sql, auth.orgId, (tx) => countDeliveriesOfSubscription(tx, { subscriptionId: current.subscription_id, ...window }));
    const reply: SubscriptionStatsJson = { since: window.since.toISOString(), until: window.until.toISOString(), deliveries };
    return c.json(reply);
  });

  app.get("/subscriptions/:subscription_id/deliveries", async (c) => {
    const auth = c.get("auth");
    requireScope(auth, "events:read");
    const current = await load(c);
    const query = readQuery(c, schemas.deliveries);
    const { limit, cursor } = pageRequest(query, { k: "timestamp", id: "uuid" });
    const rows = await withTenant(ctx.sql, auth.orgId, (tx) =>
      listDeliveriesOfSubscription(tx, { subscriptionId: current.subscription_id, status: query.status, since: query.since, after: cursor && { createdAt: cursor.k, id: cursor.id }, limit }),
    );
    const result = page(rows, limit, (row) => ({ k: row.created_at.toISOString(), id: row.delivery_id }));
    return c.json({ data: result.data.map(presentDelivery), next_cursor: result.next_cursor });
  });

  return app;
}
