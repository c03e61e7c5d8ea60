/**
 * A seeded fuzz of the management API: a few hundred hostile requests (NUL, unpaired surrogates, deep nesting,
 * overflowing numbers, odd Unicode, wrong types, tampered cursors, bytes that are not UTF-8, odd content types)
 * across the main routes. Whatever the request, the answer is never a 5xx, every 4xx is problem+json with a
 * `type`, and a refused request writes nothing. The seed is fixed, so a failure replays exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { outboundTenant } from "../outbound/setup.ts";
import { seededRandom } from "../support/seededRandom.ts";

const SEED = 0x5eed_2026;
const REQUESTS = 420;

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof outboundTenant>>;
let ids: { subscription: string; route: string };

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  t = await outboundTenant(app);
  const subscription = await t.subscribe({ url: "http://127.0.0.1:9/hook" });
  const route = await app.call("POST", "/v1/ingress-routes", t.token, { name: "fuzzed", auth: { type: "basic", username: "u" }, secrets: [{ value: "password-12345678" }] });
  ids = { subscription: subscription.id, route: route.body.id };
}, 120_000);
afterAll(async () => {
  await app?.stop();
  await db.drop();
});

/** Seeded, so the same seed sends the same requests. */
function prng(seed: number) {
  const next = seededRandom(seed);
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T };
}
type Random = ReturnType<typeof prng>;

/** JSON text written as is, for what JSON.stringify cannot produce (1e999, deep nesting without recursion). */
class Raw {
  constructor(readonly text: string) {}
}
function toJson(value: unknown): string {
  if (value instanceof Raw) return value.text;
  if (Array.isArray(value)) return `[${value.map(toJson).join(",")}]`;
  if (typeof value === "object" && value !== null) return `{${Object.entries(value).map(([key, item]) => `${JSON.stringify(key)}:${toJson(item)}`).join(",")}}`;
  return JSON.stringify(value) ?? "null";
}

const deepObject = (levels: number) => new Raw(`${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`);
const deepArray = (levels: number) => new Raw(`${"[".repeat(levels)}${"]".repeat(levels)}`);

function hostileValue(r: Random): unknown {
  return r.pick<() => unknown>([
    () => r.pick(["a\u0000b", "\u0000", "\ud800", "x\udfff", "\udbff\udbff", "\udc00\ud800"]),
    () => new Raw(r.pick(['"\\ud800"', '"\\u0000"', '"a\\udfffb"', '"\\uDBFF"'])),
    () => new Raw(r.pick(["1e999", "-1e999", "123456789012345678901234567890", "1e-400", "-0", "1.7976931348623157e309"])),
    () => r.pick([1.7976931348623157e308, Number.MAX_SAFE_INTEGER + 2, -1, 0, 0.5, 2 ** 31]),
    () => deepObject(r.pick([3, 64, 257, 2_000, 20_000])),
    () => deepArray(r.pick([3, 257, 2_000, 20_000])),
    () => r.pick(["\u202e\u200d😀\uffff\ufeff e\u0301", "ａｂｃ", "𝒜\u{10ffff}", "\r\n\t", "<script>", "'; drop table x;--", "%00", "\\u0000"]),
    () => "x".repeat(r.pick([300, 5_000, 70_000])),
    () => r.pick(["", " ", "null"]),
    // Instants a four-digit year and an offset carry outside years 1-9999 (the database refuses them).
    () => r.pick(["0000-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z"]),
    () => r.pick<unknown>([true, false, null, [], {}, ["a"], [1, "two"], { nested: { "\u0000": 1 } }, { ["__proto__"]: { admin: true } }, { constructor: "x" }]),
  ])();
}

const hostileKey = (r: Random) => r.pick(["\u0000", "\ud800", "a\u0000", "__proto__", "constructor", "x".repeat(300), "😀", "", "payload.amount"]);

interface Target {
  method: "POST" | "PATCH";
  path: () => string;
  body: () => Record<string, unknown>;
}

const targets: Target[] = [
  { method: "POST", path: () => "/v1/applications", body: () => ({ name: "fuzz app", description: "d", metadata: { team: "x" } }) },
  { method: "PATCH", path: () => `/v1/applications/${t.appId}`, body: () => ({ description: "changed", metadata: { k: "v" } }) },
  { method: "POST", path: () => `/v1/applications/${t.appId}/event-types`, body: () => ({ name: "fuzz.type", description: "d", schema: { type: "object", properties: { a: { type: "string" } } } }) },
  { method: "PATCH", path: () => `/v1/applications/${t.appId}/event-types/invoice.voided`, body: () => ({ description: "d", schema: { type: "object" } }) },
  { method: "POST", path: () => "/v1/subscriptions", body: () => ({ app_id: t.appId, url: "http://127.0.0.1:9/x", event_types: ["*"], description: "d", labels: { region: "eu" }, metadata: { k: "v" } }) },
  { method: "PATCH", path: () => `/v1/subscriptions/${ids.subscription}`, body: () => ({ description: "d", metadata: { k: "v" }, headers: { "x-team": "a" } }) },
  { method: "POST", path: () => "/v1/events", body: () => ({ app_id: t.appId, event_type: "invoice.paid", payload: { amount: 1, items: [{ sku: "a" }] }, labels: { region: "eu" }, occurred_at: "2026-01-31T12:00:00Z" }) },
  { method: "POST", path: () => `/v1/subscriptions/${ids.subscription}/recover`, body: () => ({ since: "2026-01-31T12:00:00Z" }) },
  { method: "POST", path: () => "/v1/tokens", body: () => ({ label: "fuzz token", scopes: ["events:read"], expires_at: "2030-01-31T12:00:00Z" }) },
  { method: "POST", path: () => `/v1/ingress-routes/${ids.route}/secrets`, body: () => ({ value: "password-456", valid_from: "2026-01-31T12:00:00Z", valid_until: "2030-01-31T12:00:00Z" }) },
  { method: "POST", path: () => `/v1/ingress-routes/${ids.route}/publish`, body: () => ({ body: "{}", headers: { "content-type": "application/json", "x-source": "fuzz" } }) },
  { method: "POST", path: () => "/v1/ingress-routes", body: () => ({ name: "r", auth: { type: "basic", username: "u" }, secrets: [{ value: "password-12345678" }] }) },
  { method: "PATCH", path: () => `/v1/ingress-routes/${ids.route}`, body: () => ({ name: "renamed", description: "d" }) },
];

const hostileSchemas = [{ $ref: "#" }, { pattern: "(a)\\1" }, { pattern: "^(a+)+$" }, { type: 5 }, { $defs: { a: { $ref: "#/$defs/a" } }, $ref: "#/$defs/a" }, { $ref: "http://127.0.0.1:9/" }, { $schema: "x" }, { patternProperties: { "(?=x)": {} } }];

/** A body with one hostile change: a field replaced, a hostile key added, a nested value, or a whole new body. */
function mutateBody(r: Random, body: Record<string, unknown>): unknown {
  const keys = Object.keys(body);
  switch (r.int(5)) {
    case 0:
      return { ...body, [r.pick(keys)]: hostileValue(r) };
    case 1:
      return { ...body, [hostileKey(r)]: hostileValue(r) };
    case 2: {
      const key = r.pick(keys.filter((name) => typeof body[name] === "object") as string[]) ?? keys[0];
      return { ...body, [key as string]: { ...(body[key as string] as object), [r.pick(["a", "b", hostileKey(r)])]: hostileValue(r) } };
    }
    case 3:
      return "schema" in body ? { ...body, schema: r.pick(hostileSchemas) } : hostileValue(r);
    default:
      return hostileValue(r);
  }
}

/** Valid JSON bytes made invalid, or sent under a content type the API does not take. */
function corruptBytes(r: Random, text: string): { body: Uint8Array | string; contentType: string | undefined } {
  const bytes = Buffer.from(text);
  const at = r.int(bytes.length + 1);
  switch (r.int(7)) {
    case 0:
      return { body: Buffer.concat([bytes.subarray(0, at), Buffer.from(r.pick([[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0xaf], [0x00]])), bytes.subarray(at)]), contentType: "application/json" };
    case 1:
      return { body: bytes.subarray(0, at), contentType: "application/json" };
    case 2:
      return { body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]), contentType: "application/json" };
    case 3:
      return { body: `${text}${r.pick(["}", "]]", " x", "\u0000", "\n{}"])}`, contentType: "application/json" };
    default:
      return {
        body: text,
        contentType: r.pick([undefined, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=iso-8859-1", "application/merge-patch+json", "APPLICATION/JSON", "application/jsonx", "*/*"]),
      };
  }
}

const encodeCursor = (value: unknown) => Buffer.from(toJson(value)).toString("base64url");

function hostileQueryValue(r: Random): string {
  return r.pick([
    "%00", "a%00b", "%ED%A0%80", "%FF", "%ZZ", "%", "%E2%80%AE", encodeURIComponent("x".repeat(3000)), "-1", "0", "1e999", "99999999999999999999", "",
    encodeCursor({ k: "not-a-date", id: "x" }), encodeCursor({ k: "2026-01-31T12:00:00.000Z", id: "x" }), encodeCursor({ k: "\ud800", id: "\u0000" }),
    // Deep, but short enough for the HTTP server's request-line limit (it answers 431 itself, before the app).
    encodeCursor({ k: 1, id: [] }), encodeCursor(null), encodeCursor(deepObject(300)), "!!!", "eyJrIjoi",
    encodeURIComponent("0000-01-01T00:00:00Z"), encodeURIComponent("9999-12-31T23:59:59-14:00"), encodeURIComponent("0001-01-01T00:00:00+14:00"),
  ]);
}

function hostileGet(r: Random): string {
  const lists = ["/v1/applications", "/v1/subscriptions", "/v1/events", "/v1/tokens", "/v1/ingress-routes", "/v1/attempts", `/v1/applications/${t.appId}/event-types`, `/v1/subscriptions/${ids.subscription}/deliveries`, `/v1/ingress-routes/${ids.route}/receipts`];
  const items = ["/v1/applications/", "/v1/subscriptions/", "/v1/events/", "/v1/tokens/", "/v1/ingress-routes/", "/v1/attempts/", "/v1/deliveries/", `/v1/applications/${t.appId}/event-types/`];
  if (r.int(4) === 0) return `${r.pick(items)}${r.pick(["%00", "%ED%A0%80", "%FF", "x".repeat(500), "😀", "..%2F..%2F", "00000000-0000-4000-8000-00000000000%00", "evt_%00"])}`;
  const name = r.pick(["after", "after", "limit", "label", "event_type", "app_id", "status", "since", "until", "include_deprecated", "queue", "%00", "x"]);
  const extra = r.int(3) === 0 ? `&${r.pick(["after", "limit", "label"])}=${hostileQueryValue(r)}` : "";
  return `${r.pick(lists)}?${name}=${name === "label" && r.int(2) === 0 ? `region:${hostileQueryValue(r)}` : hostileQueryValue(r)}${extra}`;
}

async function rowCounts(): Promise<unknown> {
  const [counts] = await db.owner`
    select (select count(*)::int from hookledger.ledger) as ledger,
           (select count(*)::int from hookledger.applications) as applications,
           (select count(*)::int from hookledger.event_types) as event_types,
           (select count(*)::int from hookledger.subscriptions) as subscriptions,
           (select count(*)::int from hookledger.events) as events,
           (select count(*)::int from hookledger.api_tokens) as tokens,
           (select count(*)::int from hookledger.ingress_routes) as ingress_routes`;
  return counts;
}

describe("fuzzing the management API", () => {
  it(`answers ${REQUESTS} hostile requests without a 5xx, with problem+json, writing nothing when refusing`, async () => {
    const r = prng(SEED);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    for (let n = 0; n < REQUESTS; n++) {
      let method = "GET";
      let path: string;
      let body: Uint8Array | string | undefined;
      let contentType: string | undefined;
      const kind = r.int(20);
      if (kind < 6) {
        path = hostileGet(r);
      } else {
        const target = r.pick(targets);
        method = target.method;
        path = target.path();
        const text = toJson(kind < 17 ? mutateBody(r, target.body()) : target.body());
        ({ body, contentType } = kind < 17 ? { body: text, contentType: "application/json" } : corruptBytes(r, text));
      }
      const before = await rowCounts();
      const response = await app.fetch(path, { method, headers: { authorization: `Bearer ${t.token}`, ...(contentType ? { "content-type": contentType } : {}) }, body: body as BodyInit | undefined });
      const text = await response.text();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      const what = `#${n} ${method} ${path.slice(0, 120)} ${typeof body === "string" ? body.slice(0, 120) : Buffer.from(body?.subarray(0, 60) ?? []).toString("hex")} → ${response.status} ${text.slice(0, 200)}`;
      if (response.status >= 500) failures.push(what);
      if (response.status >= 400) {
        const problem = (() => {
          try {
            return JSON.parse(text) as { type?: unknown };
          } catch {
            return undefined;
          }
        })();
        if (response.headers.get("content-type") !== "application/problem+json" || typeof problem?.type !== "string" || !problem.type.startsWith("urn:hookledger:problem:")) failures.push(`not problem+json: ${what}`);
        const after = await rowCounts();
        if (JSON.stringify(after) !== JSON.stringify(before)) failures.push(`wrote rows while refusing: ${what} ${JSON.stringify(before)} → ${JSON.stringify(after)}`);
      }
    }
    expect(failures).toEqual([]);
    // The fuzz must mostly exercise refusals, not only the happy path.
    const refused = [...statuses.entries()].filter(([status]) => status >= 400).reduce((sum, [, count]) => sum + count, 0);
    expect(refused).toBeGreaterThan(REQUESTS / 2);
  }, 240_000);
});
