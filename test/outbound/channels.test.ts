/**
 * Channels (Svix's) over real HTTP, Postgres and a receiver: an event carries up to 10 channel names, a subscription
 * with channels receives only events that carry one of them, one without receives every event its types and labels
 * match. Stored on the event and the subscription, answered, recorded in the ledger, and applied by replays.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { consoleSession } from "../support/consoleSession.ts";
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

/** Event ids a path received, in any order, after waiting for `count` of them and a moment for any extra. */
async function receivedAt(path: string, count: number): Promise<string[]> {
  await receiver.waitFor(count, path);
  await new Promise((resolve) => setTimeout(resolve, 300));
  return receiver.requests.filter((r) => r.path === path).map((r) => String(r.headers["x-hookledger-event-id"])).sort();
}

const entryData = async (type: string, key: string, value: string) => {
  const rows = await db.owner<{ data: Record<string, unknown> }[]>`
    select data from hookledger.ledger where type = ${type} and data->>${key} = ${value} order by position`;
  return rows.map((row) => row.data);
};

describe("fan-out by channel", () => {
  it("a subscription with channels [a, b] gets events carrying b, not c nor none; one without channels gets all", async () => {
    const ab = await t.subscribe({ url: receiver.url("/ab"), channels: ["a", "b"] });
    expect(ab.channels).toEqual(["a", "b"]);
    const all = await t.subscribe({ url: receiver.url("/all") });
    expect(all.channels).toBeNull();
    // Event types still apply to a subscription with channels.
    await t.subscribe({ url: receiver.url("/users-b"), event_types: ["user.created"], channels: ["b"] });

    const answers = [];
    for (const [id, channels] of [["ch_b", ["b"]], ["ch_c", ["c"]], ["ch_none", undefined], ["ch_cb", ["c", "b"]]] as const) {
      answers.push((await t.send({ event_id: id, ...(channels ? { channels } : {}) })).body.deliveries_scheduled);
    }
    expect(answers).toEqual([2, 1, 1, 2]);
    expect(await receivedAt("/ab", 2)).toEqual(["ch_b", "ch_cb"]);
    expect(await receivedAt("/all", 4)).toEqual(["ch_b", "ch_c", "ch_cb", "ch_none"]);
    expect(receiver.requests.filter((r) => r.path === "/users-b")).toEqual([]);
  });

  it("events answer their channels (null when none), and GET /v1/events?channel= lists those carrying one", async () => {
    const read = await app.call("GET", "/v1/events/ch_cb", t.token);
    expect([read.status, read.body.channels]).toEqual([200, ["c", "b"]]);
    expect((await app.call("GET", "/v1/events/ch_none", t.token)).body.channels).toBeNull();
    const listed = await app.call("GET", "/v1/events?channel=b", t.token);
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((e: { id: string }) => e.id).sort()).toEqual(["ch_b", "ch_cb"]);
    expect(listed.body.data.every((e: { channels: string[] }) => e.channels.includes("b"))).toBe(true);
    expect((await app.call("GET", "/v1/events?channel=zz", t.token)).body.data).toEqual([]);
    const bad = await app.call("GET", "/v1/events?channel=a%20b", t.token);
    expect([bad.status, bad.body.errors?.[0]?.field]).toEqual([400, "query.channel"]);
  });

  it("are recorded in event.received and on the events row; an event without channels records none", async () => {
    expect((await entryData("event.received", "event_id", "ch_cb"))[0]?.["channels"]).toEqual(["c", "b"]);
    expect(Object.hasOwn((await entryData("event.received", "event_id", "ch_none"))[0] ?? {}, "channels")).toBe(false);
    const rows = await db.owner<{ event_id: string; channels: string[] | null }[]>`
      select event_id, channels from hookledger.events where event_id in ('ch_b', 'ch_none') order by event_id`;
    expect(rows).toEqual([{ event_id: "ch_b", channels: ["b"] }, { event_id: "ch_none", channels: null }]);
  });

  it("the same event_id with the same channels in another order is a repeat; with other channels a conflict", async () => {
    const first = await t.send({ event_id: "ch_idem", channels: ["x", "y"] });
    expect(first.status).toBe(202);
    const again = await t.send({ event_id: "ch_idem", channels: ["y", "x"] });
    expect([again.status, again.headers.get("idempotent-replayed")]).toEqual([202, "true"]);
    expect((await t.send({ event_id: "ch_idem", channels: ["x"] })).status).toBe(409);
    expect((await t.send({ event_id: "ch_idem" })).status).toBe(409);
    // Without channels, an event's fingerprint is what it was before channels: sent twice, a repeat.
    expect((await t.send({ event_id: "ch_plain" })).status).toBe(202);
    expect((await t.send({ event_id: "ch_plain", channels: null })).headers.get("idempotent-replayed")).toBe("true");
  });
});

describe("a subscription's channels", () => {
  it("are changed by PATCH and cleared by null or [], and fan-out follows at once", async () => {
    const sub = await t.subscribe({ url: receiver.url("/patched"), channels: ["p"] });
    expect((await t.send({ event_id: "pt_1", channels: ["q"] })).status).toBe(202);
    const patched = await app.call("PATCH", `/v1/subscriptions/${sub.id}`, t.token, { channels: ["q", "r"] });
    expect([patched.status, patched.body.channels]).toEqual([200, ["q", "r"]]);
    expect((await t.send({ event_id: "pt_2", channels: ["q"] })).status).toBe(202);
    expect(await receivedAt("/patched", 1)).toEqual(["pt_2"]);
    // pt_2 met a fan-out memory the PATCH made stale (ingest_batch declined it): written on fresh reads, by the
    // transactional path and the events projection, with its channels all the same.
    expect((await app.call("GET", "/v1/events/pt_2", t.token)).body.channels).toEqual(["q"]);

    const cleared = await app.call("PATCH", `/v1/subscriptions/${sub.id}`, t.token, { channels: null });
    expect([cleared.status, cleared.body.channels]).toEqual([200, null]);
    expect((await t.send({ event_id: "pt_3" })).status).toBe(202);
    expect(await receivedAt("/patched", 2)).toEqual(["pt_2", "pt_3"]);

    await app.call("PATCH", `/v1/subscriptions/${sub.id}`, t.token, { channels: ["s"] });
    const emptied = await app.call("PATCH", `/v1/subscriptions/${sub.id}`, t.token, { channels: [] });
    expect(emptied.body.channels).toBeNull();
    expect((await app.call("GET", `/v1/subscriptions/${sub.id}`, t.token)).body.channels).toBeNull();
    // A PATCH without channels keeps them.
    await app.call("PATCH", `/v1/subscriptions/${sub.id}`, t.token, { channels: ["k"] });
    expect((await app.call("PATCH", `/v1/subscriptions/${sub.id}`, t.token, { description: "d" })).body.channels).toEqual(["k"]);

    const updates = (await entryData("subscription.updated", "subscription_id", sub.id)).map((data) => data["channels"]);
    expect(updates).toEqual([["q", "r"], null, ["s"], null, ["k"], undefined]);
    expect((await entryData("subscription.created", "subscription_id", sub.id))[0]?.["channels"]).toEqual(["p"]);
  });

  it("are set, shown and cleared by the console's endpoint forms", async () => {
    const session = await consoleSession(app, t.token);
    const added = await session.post(`/console/applications/${t.appId}/new-subscription`, `url=${encodeURIComponent(receiver.url("/console-form"))}&event_types=*&channels=eu%2C+us`);
    expect(added.status).toBe(200);
    const id = /\/console\/subscriptions\/([0-9a-f-]{36})/.exec(await added.text())?.[1] ?? "";
    expect((await app.call("GET", `/v1/subscriptions/${id}`, t.token)).body.channels).toEqual(["eu", "us"]);
    expect(await (await session.get(`/console/subscriptions/${id}/edit`)).text()).toContain('name="channels" size="40" value="eu, us"');
    const refused = await session.post(`/console/subscriptions/${id}/edit`, `url=${encodeURIComponent(receiver.url("/console-form"))}&event_types=*&channels=eu+eu`);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("channels.1");
    const cleared = await session.post(`/console/subscriptions/${id}/edit`, `url=${encodeURIComponent(receiver.url("/console-form"))}&event_types=*&channels=`);
    expect(cleared.status).toBe(303);
    expect((await app.call("GET", `/v1/subscriptions/${id}`, t.token)).body.channels).toBeNull();
  });

  it("a subscription created with channels [] or null has none, and its creation records none", async () => {
    for (const channels of [[], null]) {
      const sub = await t.subscribe({ url: receiver.url("/none"), channels });
      expect(sub.channels).toBeNull();
      expect(Object.hasOwn((await entryData("subscription.created", "subscription_id", sub.id))[0] ?? {}, "channels")).toBe(false);
    }
  });
});

describe("replays match channels", () => {
  it("replaying an event sends it to the subscriptions whose channels match it now; replay-missing skips others", async () => {
    const since = new Date().toISOString();
    await t.subscribe({ url: receiver.url("/rp-open") });
    const only = await t.subscribe({ url: receiver.url("/rp-m"), channels: ["m"] });
    expect((await t.send({ event_id: "rp_m", event_type: "invoice.voided", channels: ["m"] })).body.deliveries_scheduled).toBeGreaterThanOrEqual(2);
    expect((await t.send({ event_id: "rp_n", event_type: "invoice.voided", channels: ["n"] })).status).toBe(202);
    await receivedAt("/rp-m", 1);
    const replayed = await app.call("POST", "/v1/events/rp_n/replay", t.token);
    expect(replayed.status).toBe(202);
    const targets = await db.owner<{ subscription_id: string }[]>`
      select subscription_id from hookledger.deliveries where event_id = 'rp_n' and reason = 'replay'`;
    expect(targets.length).toBe(replayed.body.deliveries_scheduled);
    expect(targets.map((row) => row.subscription_id)).not.toContain(only.id);

    // A subscription made after the events: replay-missing sends it those of its channel only.
    const late = await t.subscribe({ url: receiver.url("/rp-late"), event_types: ["invoice.voided"], channels: ["n"] });
    const missing = await app.call("POST", `/v1/subscriptions/${late.id}/replay-missing`, t.token, { since });
    expect([missing.status, missing.body.deliveries_scheduled]).toEqual([202, 1]);
    expect(await receivedAt("/rp-late", 1)).toEqual(["rp_n"]);
  });
});

describe("channel validation", () => {
  const problem = (answer: { status: number; headers: Headers; body: { type?: string; errors?: { field: string }[] } }) => ({
    status: answer.status,
    json: answer.headers.get("content-type")?.startsWith("application/problem+json"),
    fields: answer.body.errors?.map((e) => e.field),
  });
  const eleven = Array.from({ length: 11 }, (_, i) => `c${i}`);

  it("an event's channels: at most 10, each 1-128 of letters, digits and _ . : -, none twice, not an empty list", async () => {
    expect(problem(await t.send({ channels: eleven }))).toEqual({ status: 400, json: true, fields: ["channels"] });
    expect(problem(await t.send({ channels: ["a", "b", "c", "d e"] }))).toEqual({ status: 400, json: true, fields: ["channels.3"] });
    expect(problem(await t.send({ channels: ["ok", "x".repeat(129)] }))).toEqual({ status: 400, json: true, fields: ["channels.1"] });
    expect(problem(await t.send({ channels: ["a", "é"] }))).toEqual({ status: 400, json: true, fields: ["channels.1"] });
    expect(problem(await t.send({ channels: ["a", "b", "a"] }))).toEqual({ status: 400, json: true, fields: ["channels.2"] });
    expect(problem(await t.send({ channels: [""] }))).toEqual({ status: 400, json: true, fields: ["channels.0"] });
    expect(problem(await t.send({ channels: [] }))).toEqual({ status: 400, json: true, fields: ["channels"] });
    expect(problem(await t.send({ channels: "a" }))).toEqual({ status: 400, json: true, fields: ["channels"] });
    expect(problem(await t.send({ channels: [1] }))).toEqual({ status: 400, json: true, fields: ["channels.0"] });
    // Svix's whole set, and 128 characters, are accepted.
    expect((await t.send({ channels: ["A-z_0.9:x", "y".repeat(128)], event_id: "ch_valid" })).status).toBe(202);
  });

  it("a subscription's channels: the same rules on create and PATCH", async () => {
    const create = (channels: unknown) => app.call("POST", "/v1/subscriptions", t.token, { app_id: t.appId, url: receiver.url("/v"), channels });
    expect(problem(await create(eleven))).toEqual({ status: 400, json: true, fields: ["channels"] });
    expect(problem(await create(["a", "b", "c", "d/e"]))).toEqual({ status: 400, json: true, fields: ["channels.3"] });
    expect(problem(await create(["x".repeat(129)]))).toEqual({ status: 400, json: true, fields: ["channels.0"] });
    const sub = await t.subscribe({ url: receiver.url("/v") });
    const patch = (channels: unknown) => app.call("PATCH", `/v1/subscriptions/${sub.id}`, t.token, { channels });
    expect(problem(await patch(eleven))).toEqual({ status: 400, json: true, fields: ["channels"] });
    expect(problem(await patch(["a", "a"]))).toEqual({ status: 400, json: true, fields: ["channels.1"] });
    expect((await patch(Array.from({ length: 10 }, (_, i) => `c${i}`))).status).toBe(200);
  });
});

describe("the OpenAPI document", () => {
  it("describes channels on event and subscription bodies, answers and the events list's filter", async () => {
    const document = await (await app.fetch("/openapi.json")).json();
    const body = (path: string, method: string) => document.paths[path][method].requestBody.content["application/json"].schema.properties.channels;
    for (const [path, method] of [["/v1/events", "post"], ["/v1/subscriptions", "post"], ["/v1/subscriptions/{subscription_id}", "patch"]] as const) {
      const array = body(path, method).anyOf.find((option: { type: string }) => option.type === "array");
      expect(array, `${method} ${path}`).toMatchObject({ maxItems: 10, items: { type: "string", maxLength: 128, pattern: "^[a-zA-Z0-9\\-_.:]+$" } });
    }
    for (const name of ["Event", "Subscription"]) expect(document.components.schemas[name].properties.channels.anyOf).toHaveLength(2);
    expect(document.paths["/v1/events"].get.parameters.map((p: { name: string }) => p.name)).toContain("channel");
  });
});
