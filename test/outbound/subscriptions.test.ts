import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let strictEgress: TestApp;
let receiver: Receiver;
let t: Awaited<ReturnType<typeof outboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true });
  // The production egress defaults: loopback refused, HTTPS only.
  strictEgress = await startTestApp(db, { env: { HOOKLEDGER_EGRESS_ALLOW_LOOPBACK: "false", HOOKLEDGER_EGRESS_HTTPS_ONLY: "true", HOOKLEDGER_EGRESS_DENY: "*.internal.example" } });
  receiver = await startReceiver();
  t = await outboundTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await strictEgress?.stop();
  await receiver?.close();
  await db.drop();
});

const create = (body: Record<string, unknown>, on: TestApp = app) => on.call("POST", "/v1/subscriptions", t.token, { app_id: t.appId, event_types: ["*"], url: "https://hooks.example.com/x", ...body });

describe("subscription validation", () => {
  it.each([
    ["http://127.0.0.1/hook", "https_only"],
    ["https://127.0.0.1/hook", "default:loopback"],
    ["https://2130706433/hook", "default:loopback"],
    ["https://[::ffff:169.254.169.254]/latest", "default:ipv4_mapped"],
    ["https://169.254.169.254/latest/meta-data", "default:link_local"],
    ["https://10.1.2.3/", "default:private"],
    ["https://user:pass@hooks.example.com/", "url"],
    ["https://api.internal.example/hook", "operator:deny"],
  ])("refuses %s, naming the egress rule %s", async (url, rule) => {
    const refused = await create({ url }, strictEgress);
    expect(refused.status).toBe(400);
    expect(refused.body.rule).toBe(rule);
    expect(refused.body.errors).toEqual([{ field: "url", message: expect.stringContaining(rule) }]);
  });

  it("refuses hop-by-hop, framing and signature headers, and bad names or values", async () => {
    const response = await create({
      headers: { Connection: "close", "Transfer-Encoding": "chunked", "webhook-signature": "v1,forged", "X-Hookledger-Attempt": "9", "Bad Header": "x", "X-Split": "a\r\nInjected: yes" },
    });
    expect(response.status).toBe(400);
    const fields = response.body.errors.map((e: { field: string }) => e.field).sort();
    expect(fields).toEqual(["headers.Bad Header", "headers.Connection", "headers.Transfer-Encoding", "headers.X-Hookledger-Attempt", "headers.X-Split", "headers.webhook-signature"]);
  });

  it("refuses one header named twice in different case, instead of keeping the last", async () => {
    const response = await create({ headers: { "X-Team": "one", "x-team": "two", "X-Other": "ok" } });
    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ field: "headers.x-team", message: 'the same header as "X-Team" (header names ignore case)' }]);
  });

  it("names a 20,000-character header name in its error by its first 100 characters, not whole", async () => {
    const name = "x".repeat(20_000);
    const response = await create({ headers: { [name]: "v" } });
    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ field: `headers.${"x".repeat(100)}…`, message: `"${"x".repeat(100)}" is not a valid header name` }]);
    expect(JSON.stringify(response.body).length).toBeLessThan(2_000);
  });

  it("subscribes to every event type when event_types is left out (as a Svix endpoint without filterTypes), but not to none", async () => {
    const { event_types: _all, ...withoutTypes } = { app_id: t.appId, url: "http://127.0.0.1:9/all", event_types: undefined };
    const created = await app.call("POST", "/v1/subscriptions", t.token, withoutTypes);
    expect(created.body).toMatchObject({ event_types: ["*"] });
    const none = await create({ event_types: [] });
    expect(none.status).toBe(400);
    expect(none.body.errors).toEqual([{ field: "event_types", message: expect.stringContaining('["*"]') }]);
  });

  it("refuses bad patterns, schedules, timeouts and secrets", async () => {
    const response = await create({
      event_types: ["Invoice Paid", "invoice.**"],
      retry_schedule: [0.001, 999999999],
      max_attempts: 0,
      timeout_ms: 10_000_000,
      secret: "not-a-secret",
      signature_scheme: "md5",
    });
    expect(response.status).toBe(400);
    expect(response.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(
      ["event_types.0", "event_types.1", "max_attempts", "retry_schedule.0", "retry_schedule.1", "secret", "signature_scheme", "timeout_ms"].sort(),
    );
    const twice = await create({ event_types: ["invoice.paid", "invoice.*", "invoice.paid"] });
    expect(twice.status).toBe(400);
    expect(twice.body.errors).toEqual([{ field: "event_types.2", message: '"invoice.paid" is listed twice' }]);
    const unsignable = await create({ signature_scheme: "hookledger-v1", signed_headers: ["x-not-sent"] });
    expect(unsignable.body.errors).toEqual([{ field: "signed_headers", message: expect.stringContaining("x-not-sent") }]);
    // A name every object inherits is not a header the request carries.
    const inherited = await create({ signature_scheme: "hookledger-v1", signed_headers: ["constructor"] });
    expect(inherited.body.errors).toEqual([{ field: "signed_headers", message: expect.stringContaining("constructor") }]);
  });

  it("accepts a caller-chosen signing secret and redacts credential-looking header values after creation", async () => {
    const secret = `whsec_${Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + 11) % 256)).toString("base64")}`;
    const created = await create({ url: receiver.url("/own"), secret, headers: { Authorization: "Bearer downstream", "X-Team": "billing" } });
    expect(created.status).toBe(201);
    expect(created.body.secret).toBe(secret);
    expect(created.body.headers).toEqual({ authorization: "Bearer downstream", "x-team": "billing" });
    const fetched = await app.call("GET", `/v1/subscriptions/${created.body.id}`, t.token);
    expect(fetched.body.headers).toEqual({ authorization: "[redacted]", "x-team": "billing" });
    expect(fetched.body.secret).toBeUndefined();
  });

  it("shows credential-like custom headers as [redacted] by the rule ingress uses, and ordinary ones as set", async () => {
    const credentials = ["X-Auth", "X-Credential", "X-Passwd", "X-Pwd", "X-Session", "X-Hmac", "X-Api-Pass", "X-Jwt", "X-Access", "Authorization"];
    const ordinary = ["X-Team", "X-Keyboard", "X-Author", "Access-Control-Request-Method"];
    const headers = Object.fromEntries([...credentials, ...ordinary].map((name) => [name, `value-of-${name}`]));
    const created = await app.call("POST", "/v1/subscriptions", t.token, { app_id: t.appId, url: "http://127.0.0.1:9/cred", event_types: ["*"], headers });
    expect(created.status).toBe(201);
    const shown = (await app.call("GET", `/v1/subscriptions/${created.body.id}`, t.token)).body.headers as Record<string, string>;
    expect(Object.keys(shown).filter((name) => shown[name] === "[redacted]").sort()).toEqual(credentials.map((name) => name.toLowerCase()).sort());
    expect(Object.keys(shown).filter((name) => shown[name] !== "[redacted]").sort()).toEqual(ordinary.map((name) => name.toLowerCase()).sort());
  });

  it("keeps a redacted header's stored value when it is sent back as shown, and refuses the placeholder where nothing is stored", async () => {
    // Read-modify-write of headers (an admin UI, Terraform) sent "[redacted]" back: it was stored and sent to the
    // receiver as the API key (sweep 18).
    const created = await create({ url: receiver.url("/kept-key"), event_types: ["invoice.paid"], headers: { "X-Api-Key": "real-key-123" } });
    const shown = (await app.call("GET", `/v1/subscriptions/${created.body.id}`, t.token)).body.headers;
    expect(shown).toEqual({ "x-api-key": "[redacted]" });
    const patched = await app.call("PATCH", `/v1/subscriptions/${created.body.id}`, t.token, { headers: { ...shown, "X-Team": "blue" } });
    expect(patched.status).toBe(200);
    expect(patched.body.headers).toEqual({ "x-api-key": "[redacted]", "x-team": "blue" });
    expect((await t.send({ event_id: "kept_key" })).status).toBe(202);
    const [delivered] = await receiver.waitFor(1, "/kept-key");
    expect(delivered!.headers["x-api-key"]).toBe("real-key-123");
    expect(delivered!.headers["x-team"]).toBe("blue");
    for (const refused of [
      await app.call("PATCH", `/v1/subscriptions/${created.body.id}`, t.token, { headers: { "X-Other-Key": "[redacted]" } }),
      await create({ url: receiver.url("/no-key"), headers: { "X-Api-Key": "[redacted]" } }),
    ]) {
      expect(refused.status).toBe(400);
      expect(refused.body.errors).toEqual([{ field: expect.stringMatching(/^headers\.x-(other|api)-key$/), message: expect.stringContaining("keeps the stored value") }]);
    }
  });

  it("refuses a supplied secret whose key is one byte repeated, at creation and rotation", async () => {
    for (const byte of [0, 7, 255]) {
      const placeholder = `whsec_${Buffer.alloc(32, byte).toString("base64")}`;
      const refused = await create({ url: receiver.url("/placeholder"), secret: placeholder });
      expect(refused.status).toBe(400);
      expect(refused.body.errors).toEqual([{ field: "secret", message: "expected random bytes: this key repeats one byte" }]);
    }
    const sub = await create({ url: receiver.url("/placeholder") });
    const rotated = await app.call("POST", `/v1/subscriptions/${sub.body.id}/secret/rotate`, t.token, { secret: `whsec_${Buffer.alloc(24).toString("base64")}` });
    expect(rotated.status).toBe(400);
    expect(rotated.body.errors).toEqual([{ field: "secret", message: "expected random bytes: this key repeats one byte" }]);
    const malformed = await create({ url: receiver.url("/placeholder"), secret: "whsec_short" });
    expect(malformed.body.errors).toEqual([{ field: "secret", message: "expected whsec_ followed by base64 of 24 to 64 random bytes" }]);
  });
});

describe("subscription lifecycle", () => {
  it("updates fields, and deleting cancels open deliveries", async () => {
    receiver.respond("/slow-fail", { status: 500 });
    const sub = await create({ url: receiver.url("/slow-fail"), retry_schedule: [60], event_types: ["user.created"] });
    const patched = await app.call("PATCH", `/v1/subscriptions/${sub.body.id}`, t.token, { description: "patched", metadata: { owner: "ops" } });
    expect(patched.body).toMatchObject({ description: "patched", metadata: { owner: "ops" }, url: receiver.url("/slow-fail") });
    await t.send({ event_type: "user.created", event_id: "cancel_1" });
    // Other subscriptions of this tenant receive the event too: look at this subscription's delivery only.
    const deliveryTo = async (id: string) =>
      ((await app.call("GET", "/v1/events/cancel_1", t.token)).body.deliveries as { subscription_id: string; status: string }[]).find((d) => d.subscription_id === id);
    await eventually(async () => ((await deliveryTo(sub.body.id))?.status === "retrying" ? true : undefined));
    expect((await app.call("DELETE", `/v1/subscriptions/${sub.body.id}`, t.token)).status).toBe(204);
    expect((await deliveryTo(sub.body.id))?.status).toBe("cancelled");
    expect((await app.call("GET", `/v1/subscriptions/${sub.body.id}`, t.token)).status).toBe(404);
  });

  it("deleting an application deletes its subscriptions and cancels their deliveries when their jobs run", async () => {
    const other = await outboundTenant(app);
    const sub = await other.subscribe({ url: receiver.url("/gone-app"), retry_schedule: [0.2] });
    receiver.respond("/gone-app", { status: 500 });
    await other.send({ event_id: "gone_1" });
    await receiver.waitFor(1, "/gone-app");
    expect((await app.call("DELETE", `/v1/applications/${other.appId}`, other.token)).status).toBe(204);
    expect((await app.call("GET", `/v1/subscriptions/${sub.id}`, other.token)).status).toBe(404);
    const cancelled = await eventually(async () => {
      const delivery = (await app.call("GET", "/v1/events/gone_1", other.token)).body.deliveries[0];
      return delivery?.status === "cancelled" ? delivery : undefined;
    });
    expect(cancelled.attempts).toBe(1);
    expect(receiver.requests.filter((r) => r.path === "/gone-app")).toHaveLength(1);
  });
});

describe("history", () => {
  it("lists events newest first with filters and stable cursors", async () => {
    const h = await outboundTenant(app);
    await h.subscribe({ url: receiver.url("/history") });
    for (let i = 0; i < 7; i++) await h.send({ event_id: `hist_${i}`, event_type: i % 2 ? "invoice.paid" : "user.created", labels: { shard: String(i % 3) } });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await app.call("GET", `/v1/events?limit=3${cursor ? `&after=${cursor}` : ""}`, h.token);
      seen.push(...page.body.data.map((e: { id: string }) => e.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(["hist_6", "hist_5", "hist_4", "hist_3", "hist_2", "hist_1", "hist_0"]);
    const paid = await app.call("GET", "/v1/events?event_type=invoice.paid", h.token);
    expect(paid.body.data.map((e: { id: string }) => e.id)).toEqual(["hist_5", "hist_3", "hist_1"]);
    const shard = await app.call("GET", "/v1/events?label=shard:0", h.token);
    expect(shard.body.data.map((e: { id: string }) => e.id)).toEqual(["hist_6", "hist_3", "hist_0"]);
    await eventually(async () => ((await app.call("GET", "/v1/events?status=succeeded", h.token)).body.data.length === 7 ? true : undefined));
    const bad = await app.call("GET", "/v1/events?status=happy&since=never", h.token);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(["query.since", "query.status"]);
  });

  it("confines application tokens to their application's history", async () => {
    const h = await outboundTenant(app);
    const secondApp = await app.call("POST", "/v1/applications", h.token, { name: "second" });
    await app.call("POST", `/v1/applications/${secondApp.body.id}/event-types`, h.token, { name: "invoice.paid" });
    await h.send({ event_id: "mine_1" });
    await app.call("POST", "/v1/events", h.token, { app_id: secondApp.body.id, event_type: "invoice.paid", event_id: "theirs_1", payload: {} });
    const appToken = await app.call("POST", "/v1/tokens", h.token, { label: "app reader", scopes: ["events:read", "events:write"], app_id: h.appId });
    const list = await app.call("GET", "/v1/events", appToken.body.token);
    expect(list.body.data.map((e: { id: string }) => e.id)).toEqual(["mine_1"]);
    expect((await app.call("GET", "/v1/events/theirs_1", appToken.body.token)).status).toBe(404);
    const cross = await app.call("POST", "/v1/events", appToken.body.token, { app_id: secondApp.body.id, event_type: "invoice.paid", payload: {} });
    expect(cross.status).toBe(404);
  });
});
