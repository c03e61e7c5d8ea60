/**
 * Manual publish (POST /v1/ingress-routes/{route_id}/publish) and the publish policy over HTTP against real
 * Postgres: a published message is recorded as ingress.received with the caller as actor, pulled and pushed like a
 * received webhook; every policy rule refuses with a 403 naming it, counted in /metrics, with nothing written.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { inboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let t: Awaited<ReturnType<typeof inboundTenant>>;
/** Routes by what they do: feeds a queue, publishes outbound, both. */
let routes: { queue: string; outbound: string; both: string };

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true });
  receiver = await startReceiver();
  t = await inboundTenant(app);
  await t.createQueue("manual");
  const subscription = await app.call("POST", "/v1/subscriptions", t.token, { app_id: t.appId, url: receiver.url("/manual"), event_types: ["github.push"] });
  expect(subscription.status).toBe(201);
  const route = async (body: Record<string, unknown>) => (await t.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ value: "k" }], ...body })).id;
  routes = {
    queue: await route({ queue: "manual" }),
    outbound: await route({ publish: { app_id: t.appId, event_type: "stripe.event" } }),
    both: await route({ queue: "manual", publish: { app_id: t.appId, event_type: "github.push" } }),
  };
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db?.drop();
});

/** Entries a request writes (the worker's own, from earlier publishes, are left out: they come at their pace). */
const ledgerCount = async () =>
  (await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger where type in ('ingress.received', 'pull.message_enqueued', 'application.created')`)[0]?.n ?? 0;
const publish = (target: TestApp, routeId: string, headers: Record<string, string> = {}, body: unknown = { body: '{"hello":"world"}', headers: { "content-type": "application/json" } }) =>
  target.call("POST", `/v1/ingress-routes/${routeId}/publish`, t.token, body, headers);
const refusalsCounted = async (target: TestApp, rule: string) => {
  const text = await (await target.fetch("/metrics")).text();
  return Number(new RegExp(`^hookledger_policy_refusals_total\\{rule="${rule}"\\} (\\d+)$`, "m").exec(text)?.[1] ?? "0");
};

describe("manual publish", () => {
  it("records the caller's body and headers as ingress.received with the caller as actor, then queues and pushes it", async () => {
    const body = '{ "ref": "refs/heads/main",  "by": "zoë" }';
    const sent = await publish(app, routes.both, { "X-Audit-Actor": "alice@example.com", "X-Request-ID": "manual-publish-0001" }, { body, headers: { "Content-Type": "application/json", "X-GitHub-Event": "push" } });
    expect(sent.status).toBe(202);
    expect(sent.body.receipt_id).toMatch(/^rcpt_/);

    const [entry] = await db.owner<{ data: Record<string, unknown>; meta: Record<string, unknown> }[]>`
      select data, meta from hookledger.ledger where type = 'ingress.received' and data->>'receipt_id' = ${sent.body.receipt_id}`;
    expect(Buffer.from(entry!.data.body_base64 as string, "base64").toString("utf8")).toBe(body);
    expect(entry!.data).toMatchObject({ route_id: routes.both, verification: { method: "manual" }, content_type: "application/json", headers: { "x-github-event": "push" } });
    expect(entry!.meta).toMatchObject({ actor: { kind: "token", id: t.tokenId }, audit_actor: "alice@example.com", request_id: "manual-publish-0001" });
    // The audit log (API and DBA view) names the actor beside the token.
    const audit = await app.call("GET", "/v1/audit-log?type=ingress.received", t.token);
    expect(audit.body.data[0]).toMatchObject({ actor: { kind: "token", id: t.tokenId }, audit_actor: "alice@example.com", request_id: "manual-publish-0001" });
    const [viewed] = await db.owner<{ audit_actor: string }[]>`
      select audit_actor from hookledger_audit.audit_log where type = 'ingress.received' and data->>'receipt_id' = ${sent.body.receipt_id}`;
    expect(viewed?.audit_actor).toBe("alice@example.com");

    const pulled = await app.call("POST", "/v1/pull/manual/dequeue", t.token, { max_messages: 10 });
    expect(pulled.body.messages.map((message: { receipt: { id: string } }) => message.receipt.id)).toEqual([sent.body.receipt_id]);
    expect((await app.call("POST", "/v1/pull/manual/ack", t.token, { lease_ids: [pulled.body.messages[0].lease_id] })).body.done).toHaveLength(1);
    const [delivered] = await receiver.waitFor(1, "/manual");
    expect(delivered!.body.toString("utf8")).toBe(body);
    expect((delivered!.headers as Record<string, string>)["x-hookledger-event-id"]).toBe(sent.body.receipt_id);
  });

  it("takes bytes as body_base64, and refuses both bodies at once, a body over the route's limit and an unknown route", async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const sent = await publish(app, routes.queue, {}, { body_base64: bytes.toString("base64"), headers: { "content-type": "application/octet-stream" } });
    expect(sent.status).toBe(202);
    const [entry] = await db.owner<{ data: { body_base64: string } }[]>`select data from hookledger.ledger where type = 'ingress.received' and data->>'receipt_id' = ${sent.body.receipt_id}`;
    expect(Buffer.from(entry!.data.body_base64, "base64")).toEqual(bytes);

    const small = await t.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ value: "k" }], max_body_bytes: 4 });
    const before = await ledgerCount();
    const both = await publish(app, routes.queue, {}, { body: "a", body_base64: "YQ==" });
    expect(both.status).toBe(400);
    expect(both.body.errors).toEqual([{ field: "body", message: "give body (text) or body_base64 (bytes), not both" }]);
    // Base64 that is not its bytes' own encoding ("1" was published as an empty body).
    for (const text of ["1", "AAAAA", "YWJj=", "YR=="]) {
      const loose = await publish(app, routes.queue, {}, { body_base64: text });
      expect(loose.status, text).toBe(400);
      expect(loose.body.errors[0].field).toBe("body_base64");
    }
    const badHeader = await publish(app, routes.queue, {}, { body: "a", headers: { "bad header": "x" } });
    expect(badHeader.status).toBe(400);
    const tooLarge = await publish(app, small.id, {}, { body: "12345" });
    expect(tooLarge.status).toBe(413);
    expect((await publish(app, "rt_000000000000000000000000")).status).toBe(404);
    expect(await ledgerCount()).toBe(before);
  });

  it("refuses a route whose manual_publish is false (rule route_publish_disabled) until it is switched back on", async () => {
    const closed = await t.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ value: "k" }], queue: "manual", manual_publish: false });
    expect(closed.manual_publish).toBe(false);
    const counted = await refusalsCounted(app, "route_publish_disabled");
    const before = await ledgerCount();
    const refused = await publish(app, closed.id);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ type: "urn:hookledger:problem:forbidden", rule: "route_publish_disabled" });
    expect(await ledgerCount()).toBe(before);
    expect(await refusalsCounted(app, "route_publish_disabled")).toBe(counted + 1);

    const reopened = await app.call("PATCH", `/v1/ingress-routes/${closed.id}`, t.token, { manual_publish: true });
    expect(reopened.body.manual_publish).toBe(true);
    expect((await publish(app, closed.id)).status).toBe(202);
  });

  it("needs an organization token with ingress:write", async () => {
    const reader = await app.call("POST", "/v1/tokens", t.token, { label: "reader", scopes: ["ingress:read"] });
    expect(reader.status).toBe(201);
    const refused = await app.call("POST", `/v1/ingress-routes/${routes.queue}/publish`, reader.body.token, { body: "x" });
    expect(refused.status).toBe(403);
  });
});

describe("publish policy", () => {
  const withPolicy = async (env: Record<string, string>, run: (policed: TestApp) => Promise<void>) => {
    const policed = await startTestApp(db, { env });
    try {
      await run(policed);
    } finally {
      await policed.stop();
    }
  };
  const good = { "X-Audit-Actor": "alice", "X-Request-ID": "policy-request-0001" };

  it("require_actor and require_request_id: every mutation must carry them, reads need neither", async () => {
    await withPolicy({ HOOKLEDGER_PUBLISH_REQUIRE_ACTOR: "true", HOOKLEDGER_PUBLISH_REQUIRE_REQUEST_ID: "true" }, async (policed) => {
      const before = await ledgerCount();
      const counted = await refusalsCounted(policed, "require_actor");
      const noActor = await publish(policed, routes.queue, { "X-Request-ID": "policy-request-0002" });
      expect(noActor.status).toBe(403);
      expect(noActor.body).toMatchObject({ rule: "require_actor", errors: [{ field: "header.X-Audit-Actor" }] });
      const otherMutation = await policed.call("POST", "/v1/applications", t.token, { name: "no actor" });
      expect(otherMutation.body).toMatchObject({ status: 403, rule: "require_actor" });
      const noRequestId = await publish(policed, routes.queue, { "X-Audit-Actor": "alice" });
      expect(noRequestId.body).toMatchObject({ status: 403, rule: "require_request_id", errors: [{ field: "header.X-Request-ID" }] });
      const malformed = await publish(policed, routes.queue, { "X-Audit-Actor": "alice", "X-Request-ID": "short" });
      expect(malformed.body).toMatchObject({ status: 403, rule: "require_request_id" });
      expect(await ledgerCount()).toBe(before);
      expect(await refusalsCounted(policed, "require_actor")).toBe(counted + 2);
      expect(await refusalsCounted(policed, "require_request_id")).toBe(2);

      expect((await policed.call("GET", "/v1/ingress-routes", t.token)).status).toBe(200);
      const accepted = await publish(policed, routes.queue, good);
      expect(accepted.status).toBe(202);
      const application = await policed.call("POST", "/v1/applications", t.token, { name: "with actor" }, good);
      expect(application.status).toBe(201);
      const [entry] = await db.owner<{ meta: Record<string, unknown> }[]>`select meta from hookledger.ledger where type = 'application.created' and data->>'app_id' = ${application.body.id}`;
      expect(entry?.meta).toMatchObject({ audit_actor: "alice", request_id: "policy-request-0001", actor: { id: t.tokenId } });
    });
  });

  it("actor_allow and actor_prefix decide who may publish; queue_routes off refuses routes that feed a queue", async () => {
    await withPolicy({ HOOKLEDGER_PUBLISH_ACTOR_ALLOW: "alice, bob", HOOKLEDGER_PUBLISH_ACTOR_PREFIX: "deploy-", HOOKLEDGER_PUBLISH_QUEUE_ROUTES: "false" }, async (policed) => {
      const before = await ledgerCount();
      const stranger = await publish(policed, routes.outbound, { "X-Audit-Actor": "mallory" });
      expect(stranger.body).toMatchObject({ status: 403, rule: "actor_allow" });
      const queued = await publish(policed, routes.queue, { "X-Audit-Actor": "alice" });
      expect(queued.body).toMatchObject({ status: 403, rule: "queue_routes_disabled" });
      expect((await publish(policed, routes.both, { "X-Audit-Actor": "alice" })).body).toMatchObject({ rule: "queue_routes_disabled" });
      const anonymous = await publish(policed, routes.outbound);
      expect(anonymous.body).toMatchObject({ status: 403, rule: "fail_closed" });
      expect(await ledgerCount()).toBe(before);
      expect(await refusalsCounted(policed, "actor_allow")).toBe(1);
      expect(await refusalsCounted(policed, "queue_routes_disabled")).toBe(2);
      expect(await refusalsCounted(policed, "fail_closed")).toBe(1);

      expect((await publish(policed, routes.outbound, { "X-Audit-Actor": "bob" })).status).toBe(202);
      expect((await publish(policed, routes.outbound, { "X-Audit-Actor": "deploy-ci" })).status).toBe(202);
      // Other mutations are not publishes: the actor rules do not apply to them.
      expect((await policed.call("POST", "/v1/applications", t.token, { name: "by mallory" }, { "X-Audit-Actor": "mallory" })).status).toBe(201);
    });
  });

  it("actor_prefix alone names its rule; outbound_routes off refuses routes that publish outbound", async () => {
    await withPolicy({ HOOKLEDGER_PUBLISH_ACTOR_PREFIX: "deploy-", HOOKLEDGER_PUBLISH_OUTBOUND_ROUTES: "false" }, async (policed) => {
      expect((await publish(policed, routes.queue, { "X-Audit-Actor": "alice" })).body).toMatchObject({ status: 403, rule: "actor_prefix" });
      expect((await publish(policed, routes.outbound, { "X-Audit-Actor": "deploy-ci" })).body).toMatchObject({ status: 403, rule: "outbound_routes_disabled" });
      expect((await publish(policed, routes.queue, { "X-Audit-Actor": "deploy-ci" })).status).toBe(202);
    });
  });

  it("fail_closed off: actor rules that cannot be checked (no actor) let the publish through", async () => {
    await withPolicy({ HOOKLEDGER_PUBLISH_ACTOR_PREFIX: "deploy-", HOOKLEDGER_PUBLISH_FAIL_CLOSED: "false" }, async (policed) => {
      expect((await publish(policed, routes.queue)).status).toBe(202);
      expect((await publish(policed, routes.queue, { "X-Audit-Actor": "alice" })).body).toMatchObject({ status: 403, rule: "actor_prefix" });
    });
  });

  it("refuses a malformed X-Audit-Actor with a 400 naming the header", async () => {
    const refused = await publish(app, routes.queue, { "X-Audit-Actor": "x".repeat(200) });
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([{ field: "header.X-Audit-Actor", message: "1-128 printable ASCII characters" }]);
  });

  it("refuses two actors (the header sent twice arrives joined by a comma), which a prefix rule would take for one", async () => {
    await withPolicy({ HOOKLEDGER_PUBLISH_ACTOR_PREFIX: "deploy-" }, async (policed) => {
      const joined = await publish(policed, routes.queue, { "X-Audit-Actor": "deploy-ci, mallory" });
      expect(joined.status).toBe(400);
      expect(joined.body.errors).toEqual([{ field: "header.X-Audit-Actor", message: expect.stringContaining("without commas") }]);
    });
  });
});
