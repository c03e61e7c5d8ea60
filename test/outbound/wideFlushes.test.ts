/**
 * A flush of concurrent events schedules at most 10,000 deliveries: events to an application of 1,000
 * subscriptions are written in parts (each its own commit), not one flush of 150,000 deliveries planned and
 * encoded on the event loop in one pass (1.2 s without an answer to anyone, 400 MB). Every event is still accepted
 * with all its deliveries.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { outboundTenant } from "./setup.ts";

const WIDTH = 1000;
const EVENTS = 24;

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof outboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  t = await outboundTenant(app);
  for (let i = 0; i < WIDTH; i += 50) {
    await Promise.all(Array.from({ length: 50 }, (_, j) => t.subscribe({ url: `http://127.0.0.1:9/wide/${i + j}`, event_types: ["invoice.paid"] })));
  }
}, 120_000);
afterAll(async () => {
  await app?.stop();
  await db.drop();
});

describe("flushes of wide events", () => {
  it("are written in parts of at most 10,000 deliveries, every event with all its deliveries", async () => {
    const sent = await Promise.all(Array.from({ length: EVENTS }, (_, i) => t.send({ event_id: `wide_${i}` })));
    expect(sent.map((res) => res.status)).toEqual(Array(EVENTS).fill(202));
    expect(sent.every((res) => res.body.deliveries_scheduled === WIDTH)).toBe(true);
    const [deliveries] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.deliveries where org_id = ${t.orgId}`;
    expect(deliveries?.n).toBe(EVENTS * WIDTH);
    // Each commit (transaction) of event.received entries scheduled at most 10,000 deliveries.
    const commits = await db.owner<{ events: number; deliveries: number }[]>`
      select count(*)::int as events, sum((data->>'deliveries_scheduled')::int)::int as deliveries
      from hookledger.ledger where org_id = ${t.orgId} and type = 'event.received' group by xact_id`;
    expect(commits.reduce((sum, commit) => sum + commit.events, 0)).toBe(EVENTS);
    expect(Math.max(...commits.map((commit) => commit.deliveries))).toBeLessThanOrEqual(10_000);
    expect(commits.length).toBeGreaterThanOrEqual(Math.ceil((EVENTS * WIDTH) / 10_000));
  }, 60_000);
});
