/**
 * An event's deliveries are paged: each replay adds a delivery per subscription, and `GET /v1/events/{id}` listed
 * every one (a sweep's 850 replays: 16,803 deliveries, 7.1 MB in one answer). It now embeds the first 100 with a
 * cursor, and `GET /v1/events/{id}/deliveries` pages through all of them, first scheduled first.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { outboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof outboundTenant>>;
const EVENT = "evt_many_deliveries";

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  t = await outboundTenant(app);
  // No worker: the deliveries stay pending, which is all these lists need.
  for (const path of ["a", "b", "c"]) await t.subscribe({ url: `http://127.0.0.1:9/${path}`, event_types: ["invoice.paid"] });
  expect((await t.send({ event_id: EVENT })).status).toBe(202);
  // 3 at first, then 3 per replay: 105 in all.
  for (let n = 0; n < 34; n++) expect((await app.call("POST", `/v1/events/${EVENT}/replay`, t.token)).status).toBe(202);
});
afterAll(async () => {
  await app?.stop();
  await db.drop();
});

type Delivery = { id: string; event_id: string; created_at: string };

async function everyPage(limit: number): Promise<Delivery[]> {
  const seen: Delivery[] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 20; pages++) {
    const query: string = `limit=${limit}${after ? `&after=${after}` : ""}`;
    const res = await app.call("GET", `/v1/events/${EVENT}/deliveries?${query}`, t.token);
    expect(res.status).toBe(200);
    seen.push(...(res.body.data as Delivery[]));
    after = res.body.next_cursor;
    if (after === null) return seen;
  }
  throw new Error("more pages than deliveries");
}

describe("an event's deliveries", () => {
  it("GET /v1/events/{id} embeds the first 100 and a cursor to the rest", async () => {
    const res = await app.call("GET", `/v1/events/${EVENT}`, t.token);
    expect(res.status).toBe(200);
    expect(res.body.deliveries).toHaveLength(100);
    expect(typeof res.body.deliveries_next_cursor).toBe("string");
    const rest = await app.call("GET", `/v1/events/${EVENT}/deliveries?after=${res.body.deliveries_next_cursor}`, t.token);
    expect(rest.status).toBe(200);
    expect(rest.body.data).toHaveLength(5);
    expect(rest.body.next_cursor).toBeNull();
    const all = await everyPage(250);
    expect([...res.body.deliveries, ...rest.body.data].map((d: Delivery) => d.id)).toEqual(all.map((d) => d.id));
  });

  it("pages through every delivery once, first scheduled first", async () => {
    const all = await everyPage(40);
    expect(all).toHaveLength(105);
    expect(new Set(all.map((d) => d.id)).size).toBe(105);
    expect(all.every((d) => d.event_id === EVENT)).toBe(true);
    const [rows] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.deliveries where event_id = ${EVENT}`;
    expect(rows?.n).toBe(105);
    const times = all.map((d) => Date.parse(d.created_at));
    expect(times).toEqual([...times].sort((x, y) => x - y));
    expect(await everyPage(7)).toEqual(all);
  });

  it("an event with few deliveries has no cursor", async () => {
    expect((await t.send({ event_id: "evt_few" })).status).toBe(202);
    const res = await app.call("GET", "/v1/events/evt_few", t.token);
    expect(res.body.deliveries).toHaveLength(3);
    expect(res.body.deliveries_next_cursor).toBeNull();
  });

  it("refuses bad pages and hides other applications' events", async () => {
    const badCursor = await app.call("GET", `/v1/events/${EVENT}/deliveries?after=bm90IGEgY3Vyc29y`, t.token);
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.errors).toEqual([expect.objectContaining({ field: "query.after" })]);
    const badLimit = await app.call("GET", `/v1/events/${EVENT}/deliveries?limit=0`, t.token);
    expect(badLimit.status).toBe(400);
    expect(badLimit.body.errors).toEqual([expect.objectContaining({ field: "query.limit" })]);
    const unknownQuery = await app.call("GET", `/v1/events/${EVENT}/deliveries?status=failed`, t.token);
    expect(unknownQuery.status).toBe(400);
    expect((await app.call("GET", "/v1/events/evt_nobody/deliveries", t.token)).status).toBe(404);
    expect((await app.call("GET", `/v1/events/${"x".repeat(300)}/deliveries`, t.token)).status).toBe(404);

    const other = await app.call("POST", "/v1/applications", t.token, { name: "other" });
    const otherToken = await app.call("POST", "/v1/tokens", t.token, { label: "other app", scopes: ["admin"], app_id: other.body.id });
    expect(otherToken.status).toBe(201);
    const hidden = await app.call("GET", `/v1/events/${EVENT}/deliveries`, otherToken.body.token);
    expect(hidden.status).toBe(404);
    expect(JSON.stringify(hidden.body)).not.toContain("127.0.0.1");

    const stranger = await outboundTenant(app);
    expect((await app.call("GET", `/v1/events/${EVENT}/deliveries`, stranger.token)).status).toBe(404);
  });
});
