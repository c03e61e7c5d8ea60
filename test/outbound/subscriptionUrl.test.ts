/**
 * A subscription's URL is stored exactly as it is requested. URL parsers silently rewrite what they are given
 * (`/a b` is sent as `/a%20b`, `\` as `/`, a non-ASCII host as punycode, the fragment not at all), so hookledger
 * stores that rewritten form — shown by the API, written to the ledger, checked by the egress policy — and refuses
 * control characters (tab, CR, LF), which a parser would delete rather than encode. Checked end to end: what the
 * receiver is asked for is what the API shows, on create and on PATCH.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let t: Awaited<ReturnType<typeof outboundTenant>>;
let origin: string;
let port: string;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true });
  receiver = await startReceiver();
  t = await outboundTenant(app);
  origin = receiver.url("").replace(/\/$/, "");
  port = new URL(origin).port;
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

let cases = 0;

/** Sends an event only this subscription matches and returns the URL the receiver was asked for. */
async function requestedUrlOf(subscriptionId: string): Promise<string> {
  const label = `url-case-${++cases}`;
  expect((await app.call("PATCH", `/v1/subscriptions/${subscriptionId}`, t.token, { labels: { case: label } })).status).toBe(200);
  const sent = await t.send({ labels: { case: label } });
  expect(sent.status).toBe(202);
  const ofEvent = () => receiver.requests.find((r) => r.headers["x-hookledger-event-id"] === sent.body.event_id);
  const request = await eventually(async () => ofEvent(), 15_000, `the delivery of ${sent.body.event_id}`);
  return `http://${request.headers.host}${request.path}`;
}

/** The stored URL everywhere it is kept: API, ledger and projection. */
async function storedUrlsOf(subscriptionId: string): Promise<string[]> {
  const shown = (await app.call("GET", `/v1/subscriptions/${subscriptionId}`, t.token)).body.url;
  const [row] = await db.owner<{ url: string }[]>`select url from hookledger.subscriptions where subscription_id = ${subscriptionId}`;
  const [entry] = await db.owner<{ url: string }[]>`
    select data->>'url' as url from hookledger.ledger where stream = ${`subscription:${subscriptionId}`} and data ? 'url' order by version desc limit 1`;
  return [shown, row!.url, entry!.url];
}

describe("subscription URLs are stored as they are requested", () => {
  it.each([
    ["a space in the path", (o: string) => `${o}/a b`, (o: string) => `${o}/a%20b`],
    ["spaces and quotes in path and query", (o: string) => `${o}/q "x"?k=a b`, (o: string) => `${o}/q%20%22x%22?k=a%20b`],
    ["backslashes", (o: string) => `${o}\\back\\slash`, (o: string) => `${o}/back/slash`],
    ["upper-case scheme and host, and a fragment", (o: string) => `HTTP://LOCALHOST:${new URL(o).port}/Frag#section`, (o: string) => `http://localhost:${new URL(o).port}/Frag`],
    ["a non-ASCII host and path", (o: string) => `http://bücher.localhost:${new URL(o).port}/ä`, (o: string) => `http://xn--bcher-kva.localhost:${new URL(o).port}/%C3%A4`],
  ])("%s, on create", async (_label, given, expected) => {
    const created = await t.subscribe({ url: given(origin) });
    expect(created.url).toBe(expected(origin));
    expect(await storedUrlsOf(created.id)).toEqual([expected(origin), expected(origin), expected(origin)]);
    expect(await requestedUrlOf(created.id)).toBe(expected(origin));
  });

  it("and on PATCH", async () => {
    const created = await t.subscribe({ url: `${origin}/before` });
    const patched = await app.call("PATCH", `/v1/subscriptions/${created.id}`, t.token, { url: `${origin}/after all\\x?y=1 2` });
    expect(patched.status).toBe(200);
    const expected = `${origin}/after%20all/x?y=1%202`;
    expect(patched.body.url).toBe(expected);
    expect(await storedUrlsOf(created.id)).toEqual([expected, expected, expected]);
    expect(await requestedUrlOf(created.id)).toBe(expected);
  });

  it.each([
    ["a tab", "\t"],
    ["a line feed", "\n"],
    ["a carriage return", "\r"],
    ["a NUL", "\u0000"],
  ])("refuses %s inside the URL, naming the url field, on create and on PATCH", async (_label, character) => {
    const url = `${origin}/in${character}side`;
    const refused = await app.call("POST", "/v1/subscriptions", t.token, { app_id: t.appId, event_types: ["*"], url });
    expect(refused.status).toBe(400);
    // NUL is refused by the edge rule every stored string follows (before the URL field's own check).
    const reason = character === "\u0000" ? "contains the NUL character (U+0000), which cannot be stored as text" : "must not contain control characters such as tabs or line breaks";
    expect(refused.body.errors).toEqual([{ field: "url", message: reason }]);

    const existing = await t.subscribe({ url: `${origin}/unchanged` });
    const patch = await app.call("PATCH", `/v1/subscriptions/${existing.id}`, t.token, { url });
    expect(patch.status).toBe(400);
    expect(patch.body.errors).toEqual([{ field: "url", message: reason }]);
    expect(await storedUrlsOf(existing.id)).toEqual(Array(3).fill(`${origin}/unchanged`));
  });

  it("keeps a URL already in that form unchanged", async () => {
    const url = `http://127.0.0.1:${port}/hooks/a%20b?x=%2F`;
    expect((await t.subscribe({ url })).url).toBe(url);
  });
});
