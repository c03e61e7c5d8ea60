import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyHookledgerV1 } from "../../src/crypto/hookledgerV1.ts";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let t: Awaited<ReturnType<typeof outboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true });
  receiver = await startReceiver();
  t = await outboundTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

describe("signed delivery", () => {
  it("delivers a Standard Webhooks signed event that the reference library verifies", async () => {
    const sub = await t.subscribe({ url: receiver.url("/std"), headers: { "X-Tenant": "acme" } });
    expect(sub.secret).toMatch(/^whsec_/);
    const sent = await t.send({ event_id: "evt_std_1", payload: { amount: 42, currency: "EUR" } });
    expect(sent.status).toBe(202);
    expect(sent.body).toEqual({ event_id: "evt_std_1", deliveries_scheduled: 1 });

    const [request] = await receiver.waitFor(1, "/std");
    const headers = request!.headers as Record<string, string>;
    const body = request!.body.toString("utf8");
    expect(body).toBe('{"amount":42,"currency":"EUR"}');
    expect(new Webhook(sub.secret).verify(body, headers)).toEqual({ amount: 42, currency: "EUR" });
    expect(headers["webhook-id"]).toBe("evt_std_1");
    expect(headers["content-type"]).toBe("application/json");
    expect(headers["user-agent"]).toMatch(/^hookledger\/\d+\.\d+\.\d+$/);
    expect(headers["x-hookledger-event-type"]).toBe("invoice.paid");
    expect(headers["x-hookledger-attempt"]).toBe("1");
    expect(headers["x-tenant"]).toBe("acme");

    const attempt = await eventually(async () => {
      const list = await app.call("GET", `/v1/attempts?event_id=evt_std_1`, t.token);
      return list.body.data[0];
    });
    expect(attempt).toMatchObject({ outcome: "succeeded", status_code: 200, attempt: 1, error_class: null, response_excerpt: "ok" });
    expect(attempt.duration_ms).toBeGreaterThanOrEqual(0);
    const event = await app.call("GET", "/v1/events/evt_std_1", t.token);
    expect(event.body.deliveries).toEqual([expect.objectContaining({ status: "succeeded", attempts: 1, subscription_id: sub.id })]);
  });

  it("signs with the hookledger-v1 scheme over chosen headers", async () => {
    const sub = await t.subscribe({
      url: receiver.url("/v1sig"),
      signature_scheme: "hookledger-v1",
      headers: { "X-Tenant": "acme" },
      signed_headers: ["x-hookledger-event-id", "x-tenant"],
    });
    await t.send({ event_id: "evt_v1_1" });
    const [request] = await receiver.waitFor(1, "/v1sig");
    const signature = request!.headers["x-hookledger-signature"] as string;
    expect(signature).toMatch(/^t=\d+,h=x-hookledger-event-id x-tenant,v1=[0-9a-f]{64}$/);
    const headers = new Headers(request!.headers as Record<string, string>);
    expect(verifyHookledgerV1({ signature, headers, body: request!.body, secret: sub.secret })).toBe(true);
    headers.set("x-tenant", "evil");
    expect(verifyHookledgerV1({ signature, headers, body: request!.body, secret: sub.secret })).toBe(false);
  });

  it("refuses a signed header listed twice, in any case, and still delivers for a subscription stored with one", async () => {
    const refused = await app.call("POST", "/v1/subscriptions", t.token, { app_id: t.appId, url: receiver.url("/v1dup"), event_types: ["*"], signature_scheme: "hookledger-v1", signed_headers: ["content-type", "CONTENT-TYPE"] });
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([{ field: "signed_headers", message: expect.stringContaining("listed twice") }]);
    // Stored before the rule: every delivery stayed pending (signing refused the list) — now each name signs once.
    const sub = await t.subscribe({ url: receiver.url("/v1dup"), signature_scheme: "hookledger-v1", signed_headers: ["content-type"] });
    await db.owner`update hookledger.subscriptions set signed_headers = array['content-type', 'CONTENT-TYPE'] where subscription_id = ${sub.id}`;
    await t.send({ event_id: "evt_v1_dup" });
    const [request] = await receiver.waitFor(1, "/v1dup");
    const signature = request!.headers["x-hookledger-signature"] as string;
    expect(signature).toMatch(/^t=\d+,h=content-type,v1=[0-9a-f]{64}$/);
    expect(verifyHookledgerV1({ signature, headers: new Headers(request!.headers as Record<string, string>), body: request!.body, secret: sub.secret })).toBe(true);
  });

  it("delivers text and binary payloads byte-exact with their content type", async () => {
    await t.subscribe({ url: receiver.url("/raw"), event_types: ["user.created"] });
    const binary = Buffer.from([0, 1, 2, 250, 251, 255]);
    expect((await t.send({ event_type: "user.created", payload: undefined, payload_text: "héllo\nwörld" })).status).toBe(202);
    expect((await t.send({ event_type: "user.created", payload: undefined, payload_base64: binary.toString("base64"), content_type: "application/octet-stream" })).status).toBe(202);
    const requests = await receiver.waitFor(2, "/raw");
    const byType = Object.fromEntries(requests.map((r) => [r.headers["content-type"], r.body]));
    expect(byType["text/plain; charset=utf-8"]?.toString("utf8")).toBe("héllo\nwörld");
    expect(byType["application/octet-stream"]?.equals(binary)).toBe(true);
  });

  it("signs with both secrets during a rotation overlap, then with the new one only", async () => {
    const sub = await t.subscribe({ url: receiver.url("/rotate"), event_types: ["invoice.voided"] });
    const rotated = await app.call("POST", `/v1/subscriptions/${sub.id}/secret/rotate`, t.token, { overlap_seconds: 3600 });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(sub.secret);
    await t.send({ event_type: "invoice.voided", event_id: "evt_rot_1" });
    const [request] = await receiver.waitFor(1, "/rotate");
    const headers = request!.headers as Record<string, string>;
    expect(headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    expect(() => new Webhook(sub.secret).verify(request!.body.toString(), headers)).not.toThrow();
    expect(() => new Webhook(rotated.body.secret).verify(request!.body.toString(), headers)).not.toThrow();

    const immediate = await app.call("POST", `/v1/subscriptions/${sub.id}/secret/rotate`, t.token, { overlap_seconds: 0 });
    await t.send({ event_type: "invoice.voided", event_id: "evt_rot_2" });
    const second = (await receiver.waitFor(2, "/rotate"))[1]!;
    const secondHeaders = second.headers as Record<string, string>;
    expect(secondHeaders["webhook-signature"]?.split(" ")).toHaveLength(1);
    expect(() => new Webhook(immediate.body.secret).verify(second.body.toString(), secondHeaders)).not.toThrow();
    expect(() => new Webhook(rotated.body.secret).verify(second.body.toString(), secondHeaders)).toThrow();

    // The ledger records the rotation and key ids, never a secret.
    const ledger = JSON.stringify(await db.owner`select data, meta from hookledger.ledger`);
    for (const secret of [sub.secret, rotated.body.secret, immediate.body.secret]) expect(ledger).not.toContain(secret.slice(6));
    const audit = await app.call("GET", "/v1/audit-log?type=subscription.secret_rotated", t.token);
    expect(audit.body.data).toHaveLength(2);
  });

  it("keeps at most ten secrets signing: a rotation with overlap past them is 409, one without overlap starts afresh", async () => {
    const sub = await t.subscribe({ url: receiver.url("/rotate-many"), event_types: ["invoice.voided"] });
    for (let n = 0; n < 9; n++) expect((await app.call("POST", `/v1/subscriptions/${sub.id}/secret/rotate`, t.token, { overlap_seconds: 3600 })).status).toBe(200);
    const refused = await app.call("POST", `/v1/subscriptions/${sub.id}/secret/rotate`, t.token, { overlap_seconds: 3600 });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ type: "urn:hookledger:problem:conflict", detail: expect.stringContaining("overlap_seconds 0") });
    await t.send({ event_type: "invoice.voided", event_id: "evt_rot_many_1" });
    const [tenfold] = await receiver.waitFor(1, "/rotate-many");
    expect((tenfold!.headers["webhook-signature"] as string).split(" ")).toHaveLength(10);
    const fresh = await app.call("POST", `/v1/subscriptions/${sub.id}/secret/rotate`, t.token, { overlap_seconds: 0 });
    expect(fresh.status).toBe(200);
    await t.send({ event_type: "invoice.voided", event_id: "evt_rot_many_2" });
    const second = (await receiver.waitFor(2, "/rotate-many"))[1]!;
    expect((second.headers["webhook-signature"] as string).split(" ")).toHaveLength(1);
  });

  it("reveals the current secret through an audited call", async () => {
    const sub = await t.subscribe({ url: receiver.url("/reveal") });
    const revealed = await app.call("GET", `/v1/subscriptions/${sub.id}/secret`, t.token);
    expect(revealed.body.secret).toBe(sub.secret);
    const audit = await app.call("GET", "/v1/audit-log?type=subscription.secret_revealed", t.token);
    expect(audit.body.data[0]).toMatchObject({ data: { subscription_id: sub.id }, actor: { id: t.tokenId } });
    expect(JSON.stringify(audit.body)).not.toContain(sub.secret);
  });

  it("lists an application token's attempts with or without filters, and never another application's", async () => {
    const other = await app.call("POST", "/v1/applications", t.token, { name: "other app" });
    expect((await app.call("POST", `/v1/applications/${other.body.id}/event-types`, t.token, { name: "invoice.paid" })).status).toBe(201);
    const mine = await t.subscribe({ url: receiver.url("/app-token-mine"), event_types: ["invoice.paid"] });
    const theirs = await app.call("POST", "/v1/subscriptions", t.token, { app_id: other.body.id, url: receiver.url("/app-token-theirs"), event_types: ["invoice.paid"] });
    expect(theirs.status).toBe(201);
    const appToken = (await app.call("POST", "/v1/tokens", t.token, { label: "app reader", scopes: ["events:read"], app_id: t.appId })).body.token as string;
    await t.send({ event_id: "app_token_mine" });
    expect((await app.call("POST", "/v1/events", t.token, { app_id: other.body.id, event_type: "invoice.paid", event_id: "app_token_theirs", payload: {} })).status).toBe(202);
    await receiver.waitFor(1, "/app-token-mine");
    await receiver.waitFor(1, "/app-token-theirs");

    const seen = async (query: string) =>
      ((await app.call("GET", `/v1/attempts${query}`, appToken)).body.data as { subscription_id: string; event_id: string }[]).map((attempt) => attempt.event_id);
    await eventually(async () => expect(await seen("?limit=100")).toContain("app_token_mine"));
    const all = await seen("?limit=100");
    expect(all).not.toContain("app_token_theirs");
    // The tenant's other subscriptions (earlier tests, `*`) got it too: each attempt is this application's.
    expect(new Set(await seen("?event_id=app_token_mine"))).toEqual(new Set(["app_token_mine"]));
    expect(await seen("?event_id=app_token_theirs")).toEqual([]);
    expect(await seen(`?subscription_id=${mine.id}`)).toEqual(["app_token_mine"]);
    expect(await seen(`?subscription_id=${theirs.body.id}`)).toEqual([]);
  });

  it("sends a signed ping with /test and returns the attempt", async () => {
    const sub = await t.subscribe({ url: receiver.url("/ping") });
    const tested = await app.call("POST", `/v1/subscriptions/${sub.id}/test`, t.token);
    expect(tested.status).toBe(200);
    expect(tested.body).toMatchObject({ outcome: "succeeded", status_code: 200, attempt: 1 });
    const [ping] = await receiver.waitFor(1, "/ping");
    const payload = new Webhook(sub.secret).verify(ping!.body.toString(), ping!.headers as Record<string, string>);
    expect(payload).toMatchObject({ type: "hookledger.ping", subscription_id: sub.id });
  });

  it("sends an example of a chosen event type with /test: the payload given, else the schema's first example, checked against the schema", async () => {
    const sub = await t.subscribe({ url: receiver.url("/example"), event_types: ["invoice.paid"] });
    const schema = { type: "object", required: ["order_id"], properties: { order_id: { type: "string" } }, examples: [{ order_id: "ord_example" }] };
    expect((await app.call("POST", `/v1/applications/${t.appId}/event-types`, t.token, { name: "order.shipped", schema })).status).toBe(201);
    expect((await app.call("POST", `/v1/applications/${t.appId}/event-types`, t.token, { name: "order.bare", schema: { type: "object", required: ["order_id"] } })).status).toBe(201);

    // Sent although the subscription's event_types do not name the type: naming the subscription is the filter.
    const example = await app.call("POST", `/v1/subscriptions/${sub.id}/test`, t.token, { event_type: "order.shipped" });
    expect(example.status).toBe(200);
    expect(example.body).toMatchObject({ outcome: "succeeded", attempt: 1 });
    const given = await app.call("POST", `/v1/subscriptions/${sub.id}/test`, t.token, { event_type: "order.shipped", payload: { order_id: "ord_given" } });
    expect(given.status).toBe(200);
    const received = await receiver.waitFor(2, "/example");
    const payloads = received.map((request) => new Webhook(sub.secret).verify(request.body.toString(), request.headers as Record<string, string>));
    expect(payloads).toEqual([{ order_id: "ord_example" }, { order_id: "ord_given" }]);
    const eventId = (received[1]!.headers as Record<string, string>)["webhook-id"];
    const event = await app.call("GET", `/v1/events/${eventId}`, t.token);
    expect(event.body).toMatchObject({ event_type: "order.shipped", payload: { order_id: "ord_given" } });

    const refusals: [unknown, number, string, string][] = [
      [{ event_type: "order.shipped", payload: { order_id: 5 } }, 422, "unprocessable", "payload"],
      [{ event_type: "order.unknown" }, 422, "unprocessable", "event_type"],
      [{ event_type: "order.bare" }, 422, "unprocessable", "payload"],
      [{ payload: { order_id: "x" } }, 400, "validation", "event_type"],
      [{ event_type: "not a name" }, 400, "validation", "event_type"],
    ];
    for (const [body, status, type, field] of refusals) {
      const refused = await app.call("POST", `/v1/subscriptions/${sub.id}/test`, t.token, body);
      expect({ body, status: refused.status, type: refused.body.type }).toEqual({ body, status, type: expect.stringMatching(new RegExp(`${type}$`)) });
      expect(refused.body.errors?.[0]?.field, JSON.stringify(body)).toMatch(new RegExp(`^${field}`));
    }
    expect(receiver.requests.filter((request) => request.path === "/example")).toHaveLength(2);
  });
  it("holds a test example to an event's size limit: 413 as POST /v1/events answers, nothing sent or recorded", async () => {
    // Sweep 21: a 900 KB example (the request body may be 1 MiB) was recorded and sent as an event, past
    // HOOKLEDGER_MAX_EVENT_BYTES (512 KiB), which every other way in refuses.
    const sub = await t.subscribe({ url: receiver.url("/example-size") });
    const events = async () => (await db.owner`select count(*)::int as n from hookledger.events`)[0]!.n as number;
    const before = await events();
    const payload = { blob: "x".repeat(600_000) };
    const refused = await app.call("POST", `/v1/subscriptions/${sub.id}/test`, t.token, { event_type: "invoice.paid", payload });
    expect(refused.status).toBe(413);
    expect(refused.body).toMatchObject({ type: "urn:hookledger:problem:payload-too-large", max_bytes: 524_288, payload_bytes: 600_011 });
    const asEvent = await t.send({ payload });
    expect(asEvent.status).toBe(413);
    expect(asEvent.body.detail).toBe(refused.body.detail);
    expect(await events()).toBe(before);
    expect((await app.call("POST", `/v1/subscriptions/${sub.id}/test`, t.token, { event_type: "invoice.paid", payload: { blob: "x".repeat(500_000) } })).status).toBe(200);
    expect(receiver.requests.filter((request) => request.path === "/example-size")).toHaveLength(1);
  });
});
