/**
 * Hostile input that is well-formed but costly or misread: lists and objects of 100,000 entries under the 1 MB body
 * limit (each refused at once, in a small answer naming the field), number literals that underflow to 0, query
 * values whose percent-encoded bytes are not UTF-8, and JSON bodies declared in another charset.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_ADMIN_TOKEN, startTestApp, type TestApp } from "../support/app.ts";
import { consoleSession, type ConsoleSession } from "../support/consoleSession.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { inboundTenant } from "../inbound/setup.ts";
import { seededRandom } from "../support/seededRandom.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are parsed JSON */

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof inboundTenant>>;
let subscriptionId: string;
let routeId: string;
let consoleUser: ConsoleSession;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  t = await inboundTenant(app);
  await t.createQueue("inbox");
  routeId = (await t.createRoute({ auth: { type: "basic", username: "sender" }, secrets: [{ value: "s3cret-password-16" }], queue: "inbox" })).id;
  const subscription = await app.call("POST", "/v1/subscriptions", t.token, { app_id: t.appId, url: "http://127.0.0.1:9/hook", event_types: ["github.push"] });
  subscriptionId = subscription.body.id;
  consoleUser = await consoleSession(app, t.token);
});
afterAll(async () => {
  await app?.stop();
  await db.drop();
});

/** Sends `body` as it is (JSON text), so tests control the literals and the Content-Type exactly. */
async function sendRaw(method: string, path: string, body: string, options: { token?: string; contentType?: string } = {}) {
  const response = await app.fetch(path, {
    method,
    headers: { authorization: `Bearer ${options.token ?? t.token}`, "content-type": options.contentType ?? "application/json" },
    body,
  });
  const text = await response.text();
  return { status: response.status, text, body: text ? (JSON.parse(text) as any) : undefined };
}

// Seeded, so a failure repeats with the same lists.
const random = seededRandom(20261205);
const word = (i: number) => `${String.fromCharCode(97 + Math.floor(random() * 26))}${i}`;

/** Items a list is filled with: valid ones (the list is refused for its length alone) and invalid ones. */
const LONG = 100_000;
/** As many items as fit a body of ~750 KB (under every route's limit), up to LONG; the longest item sets the count. */
const fitting = (longest: unknown) => Math.min(LONG, Math.floor(750_000 / (JSON.stringify(longest).length + 1)));
const list = <T>(item: (i: number) => T, count = fitting(item(LONG - 1))): T[] => Array.from({ length: count }, (_, i) => item(i));
const record = (value: (i: number) => unknown = () => "v") => Object.fromEntries(list((i): [string, unknown] => [`k${word(i)}`, value(i)], fitting({ [`k${word(LONG)}`]: value(LONG) })));
const uuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;

/** Each array and record field of each route that takes a body: the method, path, body, and the field to name. */
const longFields = (): [string, string, Record<string, unknown>, string][] => {
  const sub = { app_id: t.appId, url: "http://127.0.0.1:9/x", event_types: ["*"] };
  return [
    ["POST", "/v1/organizations", { name: "big", metadata: record() }, "metadata"],
    ["PATCH", `/v1/organizations/${t.orgId}`, { metadata: record() }, "metadata"],
    ["POST", "/v1/applications", { name: "big", metadata: record(() => 1) }, "metadata"],
    ["PATCH", `/v1/applications/${t.appId}`, { metadata: record() }, "metadata"],
    ["POST", `/v1/applications/${t.appId}/event-types`, { name: "big.schema", schema: record(() => 1) }, "schema"],
    ["PATCH", `/v1/applications/${t.appId}/event-types/github.push`, { schema: record(() => 1) }, "schema"],
    ["POST", "/v1/tokens", { label: "big", scopes: list(() => "x") }, "scopes"],
    ["POST", "/v1/tokens", { label: "big", scopes: list(() => "admin") }, "scopes"],
    ["POST", "/v1/tokens", { label: "big", scopes: ["pull:consume"], queues: list(word) }, "queues"],
    ["POST", "/v1/subscriptions", { ...sub, event_types: list((i) => `ab.c${i}`) }, "event_types"],
    ["POST", "/v1/subscriptions", { ...sub, event_types: list((i) => `A${i}`) }, "event_types"],
    ["POST", "/v1/subscriptions", { ...sub, labels: record() }, "labels"],
    ["POST", "/v1/subscriptions", { ...sub, headers: record(() => "\n") }, "headers"],
    ["POST", "/v1/subscriptions", { ...sub, metadata: record() }, "metadata"],
    ["POST", "/v1/subscriptions", { ...sub, signed_headers: list(() => "a.b") }, "signed_headers"],
    ["POST", "/v1/subscriptions", { ...sub, retry_schedule: list(() => -1) }, "retry_schedule"],
    ["PATCH", `/v1/subscriptions/${subscriptionId}`, { event_types: list((i) => `ab.c${i}`) }, "event_types"],
    ["PATCH", `/v1/subscriptions/${subscriptionId}`, { event_types: list((i) => `a${i}`) }, "event_types"],
    ["PATCH", `/v1/subscriptions/${subscriptionId}`, { labels: record(() => 1) }, "labels"],
    ["PATCH", `/v1/subscriptions/${subscriptionId}`, { headers: record() }, "headers"],
    ["PATCH", `/v1/subscriptions/${subscriptionId}`, { signed_headers: list(word) }, "signed_headers"],
    ["PATCH", `/v1/subscriptions/${subscriptionId}`, { retry_schedule: list(() => 1e9) }, "retry_schedule"],
    ["POST", "/v1/events", { app_id: t.appId, event_type: "github.push", payload: {}, labels: record() }, "labels"],
    ["POST", "/v1/ingress-routes", { name: "big", auth: { type: "basic", username: "u" }, secrets: list(() => ({ id: "!" }), 60_000) }, "secrets"],
    ["POST", `/v1/ingress-routes/${routeId}/publish`, { headers: record(() => "\n"), body: "{}" }, "headers"],
    ["POST", "/v1/pull/inbox/ack", { lease_ids: list(() => "x") }, "lease_ids"],
    ["POST", "/v1/pull/inbox/nack", { lease_ids: list(uuid, 20_000) }, "lease_ids"],
    ["POST", "/v1/pull/inbox/extend", { lease_ids: list(() => 1), lease_seconds: 30 }, "lease_ids"],
    ["POST", "/v1/pull/inbox/dead-letters/replay", { message_ids: list(() => "x") }, "message_ids"],
    ["POST", "/v1/pull/inbox/dead-letters/purge", { message_ids: list(uuid, 20_000) }, "message_ids"],
    ["PATCH", "/v1/portal-settings", { allowed_origins: list(() => "x") }, "allowed_origins"],
  ];
};

describe("long arrays and records", () => {
  it("refuses every over-long list or object of a request body with one small 400 naming the field", async () => {
    for (const [method, path, body, field] of longFields()) {
      const text = JSON.stringify(body);
      expect(text.length, `${method} ${path} ${field}: the body must fit the 1 MB limit`).toBeLessThan(1_000_000);
      const token = path.startsWith("/v1/organizations") ? TEST_ADMIN_TOKEN : t.token;
      const started = performance.now();
      const answer = await sendRaw(method, path, text, { token });
      const took = performance.now() - started;
      const where = `${method} ${path} ${field} (${Math.round(took)} ms, ${answer.text.length} bytes)`;
      expect(answer.status, `${where}: ${answer.text.slice(0, 300)}`).toBe(400);
      expect(answer.text.length, where).toBeLessThan(16_384);
      expect(answer.body.type, where).toBe("urn:hookledger:problem:validation");
      expect(answer.body.errors, where).toEqual([{ field, message: expect.stringMatching(/^at most \d+/) }]);
    }
  });

  it("lists at most 20 field errors, then how many more it found", async () => {
    const body = await sendRaw("POST", "/v1/subscriptions", JSON.stringify({ app_id: t.appId, url: "http://127.0.0.1:9/x", event_types: list((i) => `a b${i}`, 100) }));
    expect(body.status).toBe(400);
    expect(body.body.errors).toHaveLength(21);
    expect(body.body.errors[20]).toEqual({ field: "(more)", message: "80 more errors not listed" });
  });

  it("reports a repeated event type once per repeat, without comparing every pair", async () => {
    const answer = await sendRaw("POST", "/v1/subscriptions", JSON.stringify({ app_id: t.appId, url: "http://127.0.0.1:9/x", event_types: ["a.b", "c.*", "a.b", "a.b"] }));
    expect(answer.status).toBe(400);
    expect(answer.body.errors).toEqual([
      { field: "event_types.2", message: '"a.b" is listed twice' },
      { field: "event_types.3", message: '"a.b" is listed twice' },
    ]);
  });

  it("caps the errors of a console form", async () => {
    const response = await consoleUser.post(`/console/applications/${t.appId}/new-subscription`, list((i) => `f${i}=%FF`, 5000).join("&"));
    const html = await response.text();
    expect(response.status).toBe(400);
    expect(html.length).toBeLessThan(32_768);
    expect(html).toContain("4980 more errors not listed");
  });
});

describe("number literals that underflow to 0", () => {
  it("refuses a non-zero number JSON.parse reads as 0, naming the field, and keeps real zeros", async () => {
    const cases: [string, string, string, string][] = [
      ["PATCH", `/v1/organizations/${t.orgId}`, '{"quotas":{"events_per_day":1e-400}}', "quotas.events_per_day"],
      ["POST", `/v1/subscriptions/${subscriptionId}/secret/rotate`, '{"overlap_seconds":1e-400}', "overlap_seconds"],
      ["PATCH", `/v1/subscriptions/${subscriptionId}`, '{"retry_schedule":[60,-2.5E-999]}', "retry_schedule.1"],
      ["POST", "/v1/pull/inbox/dequeue", `{"wait_seconds":0.${"0".repeat(400)}1}`, "wait_seconds"],
      ["POST", "/v1/events", '{"app_id":"x","event_type":"github.push","payload":{"items":[{"n":1e-400}]}}', "payload.items.0.n"],
    ];
    for (const [method, path, text, field] of cases) {
      const answer = await sendRaw(method, path, text, { token: path.startsWith("/v1/organizations") ? TEST_ADMIN_TOKEN : t.token });
      expect(answer.status, `${path}: ${answer.text}`).toBe(400);
      expect(answer.body.errors, path).toEqual([{ field, message: expect.stringMatching(/too small to represent/) }]);
    }
    const organization = await app.call("GET", `/v1/organizations/${t.orgId}`, TEST_ADMIN_TOKEN);
    expect(organization.body.quotas?.events_per_day ?? null).not.toBe(0);
    // A zero written any way, and the smallest numbers that do not underflow, are numbers like any other.
    const zeros = await sendRaw("POST", "/v1/pull/inbox/dequeue", '{"wait_seconds":0e-400,"max_messages":1}');
    expect(zeros.status, zeros.text).toBe(200);
    const tiny = await sendRaw("POST", "/v1/events", `{"app_id":"${t.appId}","event_type":"github.push","payload":{"a":5e-324,"b":"1e-400","c":-0.0e-999}}`);
    expect(tiny.status, tiny.text).toBe(202);
  });
});

describe("query values that are not UTF-8", () => {
  it("refuses percent-encoded bytes that are not UTF-8 in a /v1 query, naming the parameter", async () => {
    for (const bytes of ["%FF", "%ED%A0%80", "%C0%AF", "%E2%82"]) {
      const response = await app.fetch(`/v1/events?label=k:${bytes}`, { headers: { authorization: `Bearer ${t.token}` } });
      const body = (await response.json()) as any;
      expect(response.status, bytes).toBe(400);
      expect(body.errors, bytes).toEqual([{ field: "query.label", message: expect.stringMatching(/not valid UTF-8/) }]);
    }
    const fine = await app.fetch(`/v1/events?label=k:%C3%A9%E2%82%AC`, { headers: { authorization: `Bearer ${t.token}` } });
    expect(fine.status).toBe(200);
  });

  it("refuses them in console and portal queries with a 400 page naming the parameter", async () => {
    const signIn = await app.fetch("/console/sign-in?expired=%FF");
    expect(signIn.status).toBe(400);
    expect(await signIn.text()).toContain("query.expired");
    const events = await consoleUser.get("/console/events?label=k:%FF");
    expect(events.status).toBe(400);
    expect(await events.text()).toContain("query.label");
  });
});

describe("the charset of a JSON body", () => {
  it("answers 415 naming Content-Type for a charset other than UTF-8, and accepts UTF-8 spelt any way or none", async () => {
    const body = JSON.stringify({ name: "café" });
    for (const type of ["application/json; charset=iso-8859-1", "application/json;charset=\"latin1\"", "application/json; charset=utf-16", "application/json; charset="]) {
      const answer = await sendRaw("POST", "/v1/applications", body, { contentType: type });
      expect(answer.status, type).toBe(415);
      expect(answer.body.type).toBe("urn:hookledger:problem:unsupported-media-type");
      expect(answer.body.errors, type).toEqual([{ field: "header.Content-Type", message: expect.stringMatching(/charset/) }]);
    }
    for (const type of ["application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8", 'application/json; charset="Utf-8"']) {
      const answer = await sendRaw("POST", "/v1/applications", body, { contentType: type });
      expect(answer.status, `${type}: ${answer.text}`).toBe(201);
    }
  });
});
