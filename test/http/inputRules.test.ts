/**
 * The input rules at the edge: text Postgres cannot store, runaway nesting, overflowing numbers and tampered
 * cursors are refused with a 400 naming the field, on every route, and nothing of a refused request is written.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_ADMIN_TOKEN, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { labelsField } from "../../src/outbound/fields.ts";
import { outboundTenant } from "../outbound/setup.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are parsed JSON */

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof outboundTenant>>;
let subscriptionId: string;
let routeId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  t = await outboundTenant(app);
  subscriptionId = (await t.subscribe({ url: "http://127.0.0.1:9/hook" })).id;
  await app.call("POST", "/v1/pull-queues", t.token, { name: "inbox" });
  const route = await app.call("POST", "/v1/ingress-routes", t.token, { name: "basic", auth: { type: "basic", username: "sender" }, secrets: [{ value: "s3cret-password-16" }] });
  routeId = route.body.id;
});
afterAll(async () => {
  await app?.stop();
  await db.drop();
});

/** Rows of every table a refused request could have written to, the ledger first. */
async function rowCounts(): Promise<Record<"ledger" | "applications" | "event_types" | "subscriptions" | "events" | "tokens" | "ingress_routes" | "pull_queues", number>> {
  const [counts] = await db.owner`
    select (select count(*)::int from hookledger.ledger) as ledger,
           (select count(*)::int from hookledger.applications) as applications,
           (select count(*)::int from hookledger.event_types) as event_types,
           (select count(*)::int from hookledger.subscriptions) as subscriptions,
           (select count(*)::int from hookledger.events) as events,
           (select count(*)::int from hookledger.api_tokens) as tokens,
           (select count(*)::int from hookledger.ingress_routes) as ingress_routes,
           (select count(*)::int from hookledger.pull_queues) as pull_queues`;
  return counts as Awaited<ReturnType<typeof rowCounts>>;
}

/** Sends `body` verbatim (already JSON text), so tests control escapes and bytes exactly. */
async function sendRaw(method: string, path: string, body: string | Uint8Array, contentType = "application/json") {
  const response = await app.fetch(path, { method, headers: { authorization: `Bearer ${t.token}`, "content-type": contentType }, body: body as BodyInit });
  const text = await response.text();
  return { status: response.status, type: response.headers.get("content-type"), body: text ? (JSON.parse(text) as any) : undefined };
}

const expectRefused = (response: { status: number; body: any; headers?: Headers; type?: string | null }, field: string | RegExp, message: RegExp) => {
  expect(response.status, JSON.stringify(response.body)).toBe(400);
  expect(response.headers?.get("content-type") ?? response.type).toBe("application/problem+json");
  expect(response.body.type).toBe("urn:hookledger:problem:validation");
  expect(response.body.errors).toEqual(expect.arrayContaining([{ field: typeof field === "string" ? field : expect.stringMatching(field), message: expect.stringMatching(message) }]));
};

describe("text Postgres cannot store", () => {
  it("refuses U+0000 in any stored string with 400 naming the field, and writes nothing", async () => {
    const before = await rowCounts();
    const NUL = "\u0000";
    const cases: [string, string, unknown, string][] = [
      ["POST", "/v1/applications", { name: `a${NUL}b` }, "name"],
      ["POST", "/v1/applications", { name: "ok", description: `d${NUL}` }, "description"],
      ["POST", "/v1/applications", { name: "ok", metadata: { team: `x${NUL}` } }, "metadata.team"],
      ["POST", "/v1/applications", { name: "ok", metadata: { [`te${NUL}am`]: "x" } }, "metadata.te\\u0000am"],
      ["PATCH", `/v1/applications/${t.appId}`, { description: NUL }, "description"],
      ["POST", `/v1/applications/${t.appId}/event-types`, { name: "nul.desc", description: `a${NUL}` }, "description"],
      ["POST", "/v1/subscriptions", { app_id: t.appId, url: "http://127.0.0.1:9/x", event_types: ["*"], description: NUL }, "description"],
      ["POST", "/v1/events", { app_id: t.appId, event_type: "invoice.paid", payload: { note: `n${NUL}` } }, "payload.note"],
      ["POST", "/v1/events", { app_id: t.appId, event_type: "invoice.paid", payload: { items: [{ [NUL]: 1 }] } }, "payload.items.0.\\u0000"],
      ["POST", "/v1/events", { app_id: t.appId, event_type: "invoice.paid", payload_text: `text${NUL}` }, "payload_text"],
      ["POST", "/v1/events", { app_id: t.appId, event_type: "invoice.paid", payload: {}, labels: { region: `e${NUL}u` } }, "labels.region"],
      ["POST", "/v1/tokens", { label: `ci${NUL}`, scopes: ["events:read"] }, "label"],
      ["POST", "/v1/ingress-routes", { name: `r${NUL}`, auth: { type: "basic", username: "u" }, secrets: [{ value: "password-12345678" }] }, "name"],
      ["PATCH", `/v1/ingress-routes/${routeId}`, { name: `r${NUL}` }, "name"],
      ["POST", "/v1/pull-queues", { name: "other", description: NUL }, "description"],
    ];
    for (const [method, path, body, field] of cases) {
      expectRefused(await app.call(method, path, t.token, body), field, /NUL character/);
    }
    expect(await rowCounts()).toEqual(before);
  });

  it("refuses unpaired surrogates, JSON-escaped or as raw bytes, and any body that is not UTF-8", async () => {
    const before = await rowCounts();
    expectRefused(await app.call("POST", "/v1/applications", t.token, { name: "\ud800" }), "name", /unpaired UTF-16 surrogate \(U\+D800\)/);
    expectRefused(await app.call("POST", "/v1/events", t.token, { app_id: t.appId, event_type: "invoice.paid", payload: { x: "a\udc00b" } }), "payload.x", /surrogate/);
    // A surrogate written as raw (CESU-8) bytes, and stray bytes: not UTF-8 at all.
    for (const bytes of [[0xed, 0xa0, 0x80], [0xff], [0xc3], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80]]) {
      const body = Buffer.concat([Buffer.from('{"name":"é'), Buffer.from(bytes), Buffer.from('"}')]);
      const response = await sendRaw("POST", "/v1/applications", body);
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ type: "urn:hookledger:problem:malformed-json", detail: "the body is not valid UTF-8" });
      expect(response.body.errors).toEqual([{ field: "(body)", message: expect.stringMatching(/^byte 11 is not valid UTF-8/) }]);
    }
    // Well-formed astral characters and odd-but-valid code points are ordinary text.
    const fine = await app.call("POST", "/v1/applications", t.token, { name: "😀 \u202e\ufeff\uffff" });
    expect(fine.status).toBe(201);
    expect(fine.body.name).toBe("😀 \u202e\ufeff\uffff");
    expect((await rowCounts()).applications).toBe(before.applications + 1);
  });

  it("refuses NUL in query parameters before it reaches a filter", async () => {
    expectRefused(await app.call("GET", "/v1/events?label=region:%00", t.token), "query.label", /NUL/);
    expectRefused(await app.call("GET", "/v1/events?event_type=%00", t.token), "query.event_type", /NUL/);
    expectRefused(await app.call("GET", "/v1/subscriptions?app_id=%00", t.token), "query.app_id", /NUL/);
  });

  it("refuses a query parameter given twice instead of reading one of its values", async () => {
    expectRefused(await app.call("GET", "/v1/events?limit=1&limit=500", t.token), "query.limit", /^given 2 times; this parameter takes one value$/);
    expectRefused(await app.call("GET", "/v1/applications?after=&after=x&after=y", t.token), "query.after", /^given 3 times/);
    expectRefused(await app.call("GET", `/v1/subscriptions?app_id=${t.appId}&app_id=${t.appId}`, t.token), "query.app_id", /given 2 times/);
    // Each parameter once is read as before, whatever the order.
    const page = await app.call("GET", `/v1/subscriptions?limit=1&app_id=${t.appId}`, t.token);
    expect(page.status).toBe(200);
    expect(page.body.data).toHaveLength(1);
  });

  it("keeps accepting any bytes at the public receive endpoint, which stores bodies as bytes", async () => {
    const body = Buffer.from([0x7b, 0x00, 0xed, 0xa0, 0x80, 0xff, 0x7d]);
    const response = await app.fetch(`/in/${routeId}`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from("sender:s3cret-password-16").toString("base64")}`, "content-type": "application/json" },
      body,
    });
    expect(response.status).toBe(202);
    const [receipt] = await db.owner<{ body: Buffer }[]>`select body from hookledger.ingress_receipts where route_id = ${routeId}`;
    expect(Buffer.compare(receipt!.body, body)).toBe(0);
  });
});

describe("JSON shape limits", () => {
  const deep = (levels: number) => `${'{"a":'.repeat(levels - 1)}{}${"}".repeat(levels - 1)}`;
  const eventWith = (payload: string) => `{"app_id":"${t.appId}","event_type":"invoice.paid","payload":${payload}}`;

  it("accepts a payload 256 levels deep and refuses 257 and 20,000 with 400 naming the payload", async () => {
    const before = await rowCounts();
    expect((await sendRaw("POST", "/v1/events", eventWith(deep(256)))).status).toBe(202);
    const justOver = await sendRaw("POST", "/v1/events", eventWith(deep(257)));
    expectRefused(justOver, /^payload\.a\.a\.a\.a\./, /nests deeper than 256 levels/);
    const huge = await sendRaw("POST", "/v1/events", eventWith(deep(20_000)));
    expectRefused(huge, /^payload\./, /nests deeper than 256 levels/);
    const hugeArray = await sendRaw("POST", "/v1/events", eventWith(`${"[".repeat(20_000)}${"]".repeat(20_000)}`));
    expectRefused(hugeArray, /^payload\.0\.0/, /nests deeper/);
    expect((await rowCounts()).events).toBe(before.events + 1);
  });

  it("refuses deep management bodies too, before valibot walks them", async () => {
    const response = await sendRaw("POST", "/v1/applications", `{"name":"deep","metadata":${deep(20_000)}}`);
    expectRefused(response, /^metadata\./, /nests deeper/);
  });

  it("refuses numbers that overflow to Infinity instead of storing null", async () => {
    const response = await sendRaw("POST", "/v1/events", eventWith('{"amount":1e999,"list":[-2e308]}'));
    expectRefused(response, "payload.amount", /too large/);
    expectRefused(response, "payload.list.0", /too large/);
  });
});

describe("object keys a record would drop", () => {
  // valibot's records skip these three keys without an issue: each was accepted and silently lost (a label named
  // "constructor" vanished from the event, a header from the subscription). Sent as raw JSON: in a JS object literal
  // `__proto__` would set the prototype instead of making a key.
  const keys = ["__proto__", "constructor", "prototype"];

  it("refuses them in labels, metadata, custom headers, published headers and a schema's top level, writing nothing", async () => {
    const before = await rowCounts();
    for (const key of keys) {
      const label = sendRaw("POST", "/v1/events", `{"app_id":"${t.appId}","event_type":"invoice.paid","payload":{},"labels":{"${key}":"x","ok":"y"}}`);
      expectRefused(await label, `labels.${key}`, /cannot be used as a key/);
      expectRefused(await sendRaw("POST", "/v1/applications", `{"name":"m","metadata":{"${key}":"x"}}`), `metadata.${key}`, /cannot be used as a key/);
      const subscription = `{"app_id":"${t.appId}","url":"http://127.0.0.1:9/k","event_types":["*"],"headers":{"${key}":"x"}}`;
      expectRefused(await sendRaw("POST", "/v1/subscriptions", subscription), `headers.${key}`, /cannot be used as a key/);
      expectRefused(await sendRaw("PATCH", `/v1/subscriptions/${subscriptionId}`, `{"labels":{"${key}":"x"}}`), `labels.${key}`, /cannot be used as a key/);
      expectRefused(await sendRaw("POST", `/v1/ingress-routes/${routeId}/publish`, `{"body":"{}","headers":{"${key}":"x"}}`), `headers.${key}`, /cannot be used as a key/);
      const schema = sendRaw("POST", `/v1/applications/${t.appId}/event-types`, `{"name":"keys.${key.replace(/_/g, "")}","schema":{"type":"object","${key}":{}}}`);
      expectRefused(await schema, `schema.${key}`, /cannot be used as a key/);
    }
    expect(await rowCounts()).toEqual(before);
  });

  it("refuses an array where an object of labels or metadata is expected, instead of reading it as keys 0, 1, …", async () => {
    expectRefused(await sendRaw("POST", "/v1/events", `{"app_id":"${t.appId}","event_type":"invoice.paid","payload":{},"labels":["a","b"]}`), "labels", /not an array/);
    expectRefused(await sendRaw("POST", "/v1/applications", `{"name":"m","metadata":["x"]}`), "metadata", /not an array/);
  });

  it("refuses an array wherever a body holds an object of fields, instead of reading it as an object with none", async () => {
    const [org] = (await app.call("GET", "/v1/organizations", TEST_ADMIN_TOKEN)).body.data;
    const before = await rowCounts();
    // `"quotas": []` cleared every quota override with 200; `"secrets": [[]]` generated a secret with 201.
    const quotas = await app.fetch(`/v1/organizations/${org.id}`, { method: "PATCH", headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, "content-type": "application/json" }, body: '{"quotas":[]}' });
    expectRefused({ status: quotas.status, type: quotas.headers.get("content-type"), body: await quotas.json() }, "quotas", /^expected an object, not an array$/);
    const route = `{"name":"arrays","auth":{"type":"basic","username":"u"},"secrets":[[]]}`;
    expectRefused(await sendRaw("POST", "/v1/ingress-routes", route), "secrets.0", /^expected an object, not an array$/);
    const generic = `{"name":"arrays2","auth":[],"secrets":[{"value":"s3cret-password-16"}]}`;
    expect((await sendRaw("POST", "/v1/ingress-routes", generic)).status).toBe(400);
    expect(await rowCounts()).toEqual(before);
  });

  it("refuses them through the schemas' Standard Schema entry point too", async () => {
    const result = await labelsField["~standard"].validate(JSON.parse('{"constructor":"x"}'));
    expect(result.issues?.map((issue) => issue.message)).toEqual(['"constructor" cannot be used as a key here']);
    expect(await labelsField["~standard"].validate({ team: "x" })).toMatchObject({ value: { team: "x" } });
  });

  it("keeps those keys inside a payload, which is stored and delivered as sent", async () => {
    const accepted = await sendRaw("POST", "/v1/events", `{"app_id":"${t.appId}","event_type":"invoice.paid","event_id":"evt_keys","payload":{"__proto__":{"a":1},"constructor":2,"prototype":[3]}}`);
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    const [row] = await db.owner<{ payload: string }[]>`select payload from hookledger.events where event_id = 'evt_keys'`;
    expect(row?.payload).toBe('{"__proto__":{"a":1},"constructor":2,"prototype":[3]}');
  });
});

describe("names repeated in one object", () => {
  // JSON.parse keeps the last; a gateway, a log or the receiver may read the first. A payload validated as
  // {"amount":5} against its schema was delivered, as sent, with "amount":1000000 first.
  it("refuses them in management bodies and payloads alike with 400 naming the field, and writes nothing", async () => {
    const before = await rowCounts();
    expectRefused(await sendRaw("POST", "/v1/applications", '{"name":"first","name":"second"}'), "name", /appears more than once/);
    expectRefused(await sendRaw("POST", "/v1/tokens", '{"label":"ci","scopes":["events:read"],"scopes":["admin"]}'), "scopes", /appears more than once/);
    expectRefused(await sendRaw("POST", "/v1/events", `{"app_id":"${t.appId}","event_type":"invoice.paid","payload":{"amount":1000000,"amount":5}}`), "payload.amount", /appears more than once/);
    expectRefused(await sendRaw("POST", "/v1/events", `{"app_id":"${t.appId}","event_type":"invoice.paid","payload":{"lines":[{"sku":"a"},{"sku":"b","\\u0073ku":"c"}]}}`), "payload.lines.1.sku", /appears more than once/);
    expect(await rowCounts()).toEqual(before);
  });

  it("takes one name in different objects, or at different depths", async () => {
    const accepted = await sendRaw("POST", "/v1/events", `{"app_id":"${t.appId}","event_type":"invoice.paid","event_id":"evt_names","payload":{"id":1,"customer":{"id":2},"lines":[{"id":3},{"id":4}]}}`);
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
  });
});

describe("cursors", () => {
  const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const uuid = "00000000-0000-4000-8000-000000000000";
  const good = { timestamp: "2026-01-31T12:00:00.000Z", name: "x", uuid, position: "42" };
  type Part = keyof typeof good;
  /** Cursors no list accepts, and for each part kind the values that only lists keyed by that kind refuse. */
  const neverValid = [cursor(null), cursor({ k: 1, id: uuid }), cursor({ k: "\ud800", id: "\u0000" }), "!!not-base64!!"];
  const badParts: Record<Part, unknown[]> = {
    // Year 0 has the shape and round-trips, but is outside what a timestamp field takes (and Postgres answered 500).
    timestamp: ["not-a-date", "2026-02-30T00:00:00.000Z", "2026-01-31 12:00:00", "+275760-09-13T00:00:00.000Z", "0000-01-01T00:00:00.000Z", "0000-12-31T23:59:59.999Z"],
    name: ["a\u0000b", "a b", "x".repeat(300), ""],
    uuid: ["x", "00000000-0000-4000-8000-00000000000g", "a\u0000b"],
    position: ["9999999999999999999", "-1", "1.5", "x"],
  };
  const tamperedFor = (k: Part, id: Part) => [
    ...neverValid,
    ...badParts[k].map((bad) => cursor({ k: bad, id: good[id] })),
    ...badParts[id].map((bad) => cursor({ k: good[k], id: bad })),
  ];

  it("refuses a tampered cursor on every list with 400 naming query.after", async () => {
    const lists: [string, string, Part, Part][] = [
      ["/v1/applications", t.token, "timestamp", "uuid"],
      ["/v1/organizations", TEST_ADMIN_TOKEN, "timestamp", "uuid"],
      ["/v1/tokens", t.token, "timestamp", "uuid"],
      ["/v1/subscriptions", t.token, "timestamp", "uuid"],
      [`/v1/subscriptions/${subscriptionId}/deliveries`, t.token, "timestamp", "uuid"],
      ["/v1/events", t.token, "timestamp", "name"],
      ["/v1/attempts", t.token, "timestamp", "uuid"],
      [`/v1/applications/${t.appId}/event-types`, t.token, "name", "name"],
      ["/v1/ingress-routes", t.token, "timestamp", "name"],
      [`/v1/ingress-routes/${routeId}/receipts`, t.token, "timestamp", "name"],
      ["/v1/pull-queues", t.token, "timestamp", "name"],
      ["/v1/pull/inbox/dead-letters", t.token, "timestamp", "uuid"],
      ["/v1/audit-log", t.token, "position", "position"],
    ];
    for (const [path, token, k, id] of lists) {
      for (const after of tamperedFor(k, id)) {
        const response = await app.call("GET", `${path}?after=${encodeURIComponent(after)}`, token);
        expect(response.status, `${path} ${Buffer.from(after, "base64url").toString()}`).toBe(400);
        expect(response.body.errors).toEqual([{ field: "query.after", message: "expected a cursor from a previous page's next_cursor" }]);
      }
      // A cursor of the list's own shape pointing nowhere is simply an empty page.
      expect((await app.call("GET", `${path}?after=${cursor({ k: good[k], id: good[id] })}`, token)).status).toBe(200);
    }
  });

  it("still pages with the cursors it issues", async () => {
    for (const name of ["paging.one", "paging.two", "paging.three"]) await app.call("POST", `/v1/applications/${t.appId}/event-types`, t.token, { name });
    for (const amount of [1, 2]) expect((await t.send({ payload: { amount } })).status).toBe(202);
    const first = await app.call("GET", `/v1/events?limit=1`, t.token);
    const second = await app.call("GET", `/v1/events?limit=1&after=${first.body.next_cursor}`, t.token);
    expect(second.status).toBe(200);
    const types = await app.call("GET", `/v1/applications/${t.appId}/event-types?limit=2`, t.token);
    const rest = await app.call("GET", `/v1/applications/${t.appId}/event-types?limit=2&after=${types.body.next_cursor}`, t.token);
    expect(rest.status).toBe(200);
    expect(rest.body.data.length).toBeGreaterThan(0);
    const apps = await app.call("GET", "/v1/applications?limit=1", t.token);
    expect((await app.call("GET", `/v1/applications?limit=1&after=${apps.body.next_cursor}`, t.token)).status).toBe(200);
  });
});
