/**
 * Recover re-queues at most 1,000 deliveries per call and says when more remain: unbounded, one call re-queued a
 * whole outage's failures in one transaction (21,854 took 8.7 s holding their rows and held the event loop up to
 * 350 ms; sweep 22). No worker runs here, so the deliveries stay as the test leaves them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { outboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

describe("recover in turns", () => {
  it("re-queues the oldest 1,000 cancelled or failed deliveries per call, remaining saying to call again", async () => {
    const t = await outboundTenant(app);
    const sub = await t.subscribe({ url: "http://127.0.0.1:9/down", event_types: ["invoice.paid"] });
    const total = 1003;
    let next = 0;
    const sender = async () => {
      while (next < total) {
        const sent = await t.send({ event_id: `turn_${next++}` });
        expect(sent.status).toBe(202);
      }
    };
    await Promise.all(Array.from({ length: 8 }, sender));
    // Disabling cancels them all; recover needs the subscription enabled again.
    expect((await app.call("POST", `/v1/subscriptions/${sub.id}/disable`, t.token)).status).toBe(200);
    expect((await app.call("POST", `/v1/subscriptions/${sub.id}/enable`, t.token)).status).toBe(200);
    const open = async () =>
      (await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.deliveries where subscription_id = ${sub.id} and status = 'pending'`)[0]?.n;
    expect(await open()).toBe(0);

    const first = await app.call("POST", `/v1/subscriptions/${sub.id}/recover`, t.token, { since: "2000-01-01T00:00:00Z" });
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ deliveries_requeued: 1000, remaining: true });
    expect(await open()).toBe(1000);
    const second = await app.call("POST", `/v1/subscriptions/${sub.id}/recover`, t.token, { since: "2000-01-01T00:00:00Z" });
    expect(second.body).toEqual({ deliveries_requeued: 3, remaining: false });
    expect(await open()).toBe(total);
    expect((await app.call("POST", `/v1/subscriptions/${sub.id}/recover`, t.token, { since: "2000-01-01T00:00:00Z" })).body).toEqual({ deliveries_requeued: 0, remaining: false });
  });
});
