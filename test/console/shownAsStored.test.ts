/**
 * The console shows what was stored, bounded by it. JSON is laid out token for token (a repeated key stays
 * repeated, 9007199254740993 keeps its last digit, 1e400 is not `null`), and nesting never multiplies a page: a 12 KB
 * payload of arrays 6,000 deep had made a 72 MB event page. Dead letters are read only as far as their excerpt,
 * and the API's dead-letter pages stop at 8 MB of bodies; the events list reads no payloads. The ingress page shows the URL a custom path is served
 * at; aborted deliveries are counted and can be filtered on.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { layOutJson } from "../../src/console/jsonLayout.ts";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { consoleSession, type ConsoleSession } from "../support/consoleSession.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { inboundTenant, postWebhook } from "../inbound/setup.ts";
import { outboundTenant } from "../outbound/setup.ts";
import { seededRandom } from "../support/seededRandom.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true });
  receiver = await startReceiver();
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

/** JSON text with odd spacing, repeated keys, escapes and numbers JavaScript cannot hold. */
function jsonText(next: () => number, depth = 0): string {
  const space = () => [" ", "", "\n", "\t", "\r\n  "][Math.floor(next() * 5)] as string;
  const pick = Math.floor(next() * (depth > 4 ? 4 : 6));
  switch (pick) {
    case 0:
      return ["0", "-12.5e+3", "9007199254740993", "1e400", "123456789012345678901234567890"][Math.floor(next() * 5)] as string;
    case 1:
      return ['""', '"a\\"b"', '"\\u00e9,:{}[]"', '"line\\nbreak"', '"é 😀"'][Math.floor(next() * 5)] as string;
    case 2:
      return ["true", "false", "null"][Math.floor(next() * 3)] as string;
    case 3:
      return `[${space()}]`;
    case 4: {
      const items = Array.from({ length: 1 + Math.floor(next() * 3) }, () => space() + jsonText(next, depth + 1) + space());
      return `[${items.join(",")}]`;
    }
    default: {
      const keys = Array.from({ length: 1 + Math.floor(next() * 3) }, () => `${space()}"${next() < 0.5 ? "k" : "k2"}"${space()}:${space()}${jsonText(next, depth + 1)}${space()}`);
      return `{${keys.join(",")}}`;
    }
  }
}

/** The text without white space outside strings: what must not change. */
function tokens(text: string): string {
  let out = "";
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (inString) {
      out += c;
      if (c === "\\") out += text.charAt(++i);
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (!" \t\n\r".includes(c)) out += c;
  }
  return out;
}

describe("JSON layout", () => {
  it("indents without changing a token", () => {
    expect(layOutJson('{"a":1,"a":2,"n":9007199254740993,"e":[],"o":{},"x":1e400}')).toBe(
      '{\n  "a": 1,\n  "a": 2,\n  "n": 9007199254740993,\n  "e": [],\n  "o": {},\n  "x": 1e400\n}',
    );
    expect(layOutJson("not json")).toBeUndefined();
    expect(layOutJson('{"a":1')).toBeUndefined();
    const next = seededRandom(20261205);
    for (let i = 0; i < 500; i++) {
      const text = jsonText(next);
      const laid = layOutJson(text);
      expect(laid, text).toBeDefined();
      expect(tokens(laid as string)).toBe(tokens(text));
      expect(JSON.parse(laid as string)).toEqual(JSON.parse(text));
    }
  });

  it("leaves deep or wide-growing JSON as it is", () => {
    expect(layOutJson(`${"[".repeat(33)}1${"]".repeat(33)}`)).toBeUndefined();
    expect(layOutJson(`${"[".repeat(32)}1${"]".repeat(32)}`)).toBeDefined();
    // Each 2-character element would take a line of 64 spaces at depth 32: past three times the text's size.
    expect(layOutJson(`${"[".repeat(31)}[${Array(2_000).fill("1").join(",")}]${"]".repeat(31)}`)).toBeUndefined();
  });
});

describe("console pages", () => {
  let t: Awaited<ReturnType<typeof outboundTenant>>;
  let session: ConsoleSession;

  beforeAll(async () => {
    t = await outboundTenant(app);
    session = await consoleSession(app, t.token);
  });

  const eventPage = async (eventId: string) => {
    const page = await session.get(`/console/events/${eventId}`);
    expect(page.status).toBe(200);
    return page.text();
  };

  it("show a payload's JSON token for token, as stored", async () => {
    const stored = '{"amount": 100, "amount": 1000000, "id": 9007199254740993, "big": 1e400}';
    expect((await t.send({ event_id: "odd_json", payload: undefined, payload_text: stored, content_type: "application/json" })).status).toBe(202);
    const html = await eventPage("odd_json");
    for (const token of ["&quot;amount&quot;: 100,", "&quot;amount&quot;: 1000000", "9007199254740993", "1e400"]) expect(html).toContain(token);
  });

  it("stay the size of what was stored, however deep its nesting", async () => {
    const deep = `${"[".repeat(6_000)}${"]".repeat(6_000)}`;
    expect((await t.send({ event_id: "deep_json", payload: undefined, payload_text: deep, content_type: "text/plain" })).status).toBe(202);
    const html = await eventPage("deep_json");
    expect(html).toContain(deep);
    expect(html.length).toBeLessThan(100_000);
  });

  it("list events without reading their payloads: 9 MB of them fill no page", async () => {
    const big = await outboundTenant(app);
    const bigSession = await consoleSession(app, big.token);
    const ids = Array.from({ length: 18 }, (_, i) => `mb_${i}`);
    for (const id of ids) expect((await big.send({ event_id: id, payload: undefined, payload_text: "m".repeat(500 * 1024), content_type: "text/plain" })).status).toBe(202);
    const list = await bigSession.get("/console/events");
    expect(list.status).toBe(200);
    const html = await list.text();
    for (const id of ids) expect(html).toContain(`/events/${id}"`);
    expect(html).not.toContain('rel="next"');
    expect(html.length).toBeLessThan(200_000);
  });

  it("count aborted deliveries and filter on them", async () => {
    await t.subscribe({ url: receiver.url("/abort"), event_types: ["invoice.paid"] });
    receiver.respond("/abort", { status: 422, headers: { "Webhook-Delivery": "abort-message" }, body: "not for us" });
    expect((await t.send({ event_id: "aborted_1" })).status).toBe(202);
    await t.settled("aborted_1", "aborted");
    const list = await (await session.get("/console/events?status=aborted")).text();
    expect(list).toContain("aborted_1");
    expect(list).toContain("1 aborted");
    expect(list).toMatch(/<option selected>aborted<\/option>/);
  });
});

describe("console inbound pages", () => {
  let t: Awaited<ReturnType<typeof inboundTenant>>;
  let session: ConsoleSession;

  beforeAll(async () => {
    t = await inboundTenant(app);
    session = await consoleSession(app, t.token);
  });

  it("show the URL a route with a custom path is served at", async () => {
    await t.createQueue("custom");
    const route = await t.createRoute({ auth: { type: "basic", username: "sender" }, secrets: [{ value: "s3cret-password-16" }], path: "github/main", queue: "custom" });
    const html = await (await session.get("/console/ingress")).text();
    expect(html).toContain(`/in/${t.orgId}/github/main`);
    expect(route.custom_receive_path).toBe(`/in/${t.orgId}/github/main`);
  });

  it("read dead letters only as far as shown, and the API pages them within 8 MB of bodies", async () => {
    await t.createQueue("big", { max_deliveries: 1 });
    const route = await t.createRoute({ auth: { type: "basic", username: "sender" }, secrets: [{ value: "s3cret-password-16" }], queue: "big", max_body_bytes: 4 * 1024 * 1024 });
    const auth = { Authorization: `Basic ${Buffer.from("sender:s3cret-password-16").toString("base64")}` };
    for (const letter of ["A", "B", "C"]) {
      const sent = await postWebhook(app, route.id, `${letter}-start ${letter.repeat(3 * 1024 * 1024)}`, auth);
      expect(sent.status).toBe(202);
    }
    // One at a time: an answer holds at most 8 MB of bodies.
    for (let i = 0; i < 3; i++) expect((await app.call("POST", "/v1/pull/big/dequeue", t.token, { max_messages: 1, lease_seconds: 1 })).body.messages).toHaveLength(1);
    await eventually(async () => {
      await app.call("POST", "/v1/pull/big/dequeue", t.token, { max_messages: 3 });
      const [dead] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.pull_messages where queue = 'big' and state = 'dead'`;
      return dead?.n === 3 ? true : undefined;
    }, 15_000, "the messages to be dead-lettered");

    const page = await session.get("/console/queues?queue=big");
    expect(page.status).toBe(200);
    const html = await page.text();
    for (const letter of ["A", "B", "C"]) expect(html).toContain(`${letter}-start ${letter.repeat(150)}`);
    expect(html.length).toBeLessThan(100_000);

    const first = await app.call("GET", "/v1/pull/big/dead-letters?limit=10", t.token);
    expect(first.status).toBe(200);
    expect(first.body.data).toHaveLength(2);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const rest = await app.call("GET", `/v1/pull/big/dead-letters?limit=10&after=${first.body.next_cursor}`, t.token);
    expect(rest.status, JSON.stringify(rest.body)).toBe(200);
    expect(rest.body.data).toHaveLength(1);
    expect(rest.body.next_cursor).toBeNull();
    const seen = [...first.body.data, ...rest.body.data].map((letter: { receipt: { body_base64: string } }) => Buffer.from(letter.receipt.body_base64, "base64").subarray(0, 7).toString());
    expect(seen.sort()).toEqual(["A-start", "B-start", "C-start"]);
  }, 60_000);
});
