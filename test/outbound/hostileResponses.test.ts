/**
 * What a receiver answers cannot stop its attempt, or its neighbours', from being recorded. A body holding U+0000 (a
 * PNG or gzip error page) made the group's record fail — jsonb cannot hold it — and every job in the group ran again:
 * five healthy endpoints beside one such receiver got each event five times, and every delivery stayed pending.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadShared, recordShared } from "../../src/outbound/sharedBatches.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
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
});
beforeEach(async () => {
  t = await outboundTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db?.drop();
});

const quietly = () => new Promise((resolve) => setTimeout(resolve, 1_000));
const hits = (path: string) => receiver.requests.filter((request) => request.path === path).length;

describe("a response body holding U+0000", () => {
  it("is recorded with U+FFFD in its excerpt, for a success and for a failure", async () => {
    receiver.respond("/nul-ok", { status: 200, body: "before\u0000after" });
    receiver.respond("/nul-fail", { status: 500, body: "\u0000" });
    await t.subscribe({ url: receiver.url("/nul-ok"), event_types: ["invoice.paid"] });
    await t.subscribe({ url: receiver.url("/nul-fail"), event_types: ["user.created"], max_attempts: 1 });
    await t.send({ event_id: "nul_ok" });
    await t.send({ event_id: "nul_fail", event_type: "user.created" });
    const ok = await t.settled("nul_ok", "succeeded");
    const failed = await t.settled("nul_fail", "failed");
    await quietly();
    expect([hits("/nul-ok"), hits("/nul-fail")]).toEqual([1, 1]);
    const attempts = await db.owner<{ delivery_id: string; response_excerpt: string }[]>`
      select delivery_id, response_excerpt from hookledger.delivery_attempts where delivery_id in ${db.owner([ok.id, failed.id])}`;
    expect(Object.fromEntries(attempts.map((row) => [row.delivery_id, row.response_excerpt]))).toEqual({ [ok.id]: "before\uFFFDafter", [failed.id]: "\uFFFD" });
  });

  it("leaves the endpoints recorded beside it delivered once", async () => {
    receiver.respond("/nul-beside", { status: 200, body: "\u0000" });
    await t.subscribe({ url: receiver.url("/nul-beside"), event_types: ["invoice.paid"] });
    for (let i = 0; i < 5; i++) await t.subscribe({ url: receiver.url(`/healthy-${i}`), event_types: ["invoice.paid"] });
    for (let i = 0; i < 5; i++) await t.send({ event_id: `beside_${i}` });
    for (let i = 0; i < 5; i++) {
      const event = await app.call("GET", `/v1/events/beside_${i}`, t.token);
      expect(event.body.deliveries).toHaveLength(6);
    }
    await receiver.waitFor(5, "/healthy-4");
    await quietly();
    for (const path of ["/nul-beside", ...[0, 1, 2, 3, 4].map((i) => `/healthy-${i}`)]) expect(hits(path), path).toBe(5);
    const statuses = await db.owner<{ status: string; n: number }[]>`
      select status, count(*)::int as n from hookledger.deliveries where org_id = ${t.orgId} group by status`;
    expect(statuses).toEqual([{ status: "succeeded", n: 30 }]);
  });
});

describe("an attempt whose response Postgres refuses", () => {
  it("is recorded without the response, not left unrecorded (the excerpt written as given, bypassing its cleaning)", async () => {
    // A database of its own, with no worker: the attempt below is the only one made.
    const own = await createTestDatabase();
    const idle = await startTestApp(own);
    try {
      const u = await outboundTenant(idle);
      await u.subscribe({ url: receiver.url("/never-called") });
      await u.send({ event_id: "refused_response" });
      const delivery = (await idle.call("GET", "/v1/events/refused_response", u.token)).body.deliveries[0];
      const { ready: [loaded], skipped } = await loadShared(idle.ctx, u.orgId, [{ deliveryId: delivery.id, attempt: 1 }]);
      if (!loaded) throw new Error(`the delivery did not load: ${JSON.stringify(skipped)}`);
      const attempt = {
        attempt_id: randomUUID(), delivery_id: delivery.id, event_id: "refused_response", subscription_id: loaded.subscription.subscription_id,
        attempt_number: 1, outcome: "succeeded" as const, status_code: 200, error_class: null, error_message: null, duration_ms: 3,
        response_headers: { "content-type": "image/png" }, response_excerpt: "\u0000PNG", next_attempt_at: null,
      };
      const result = { loaded, attempt, succeeded: true, next: undefined, retry: true, control: null };
      expect(await recordShared(idle.ctx, u.orgId, [result])).toEqual([result]);
      const [row] = await own.owner<{ response_excerpt: string | null; response_headers: Record<string, string> }[]>`
        select response_excerpt, response_headers from hookledger.delivery_attempts where attempt_id = ${attempt.attempt_id}`;
      expect(row).toEqual({ response_excerpt: null, response_headers: {} });
      expect((await idle.call("GET", `/v1/deliveries/${delivery.id}`, u.token)).body).toMatchObject({ status: "succeeded", attempts: 1 });
    } finally {
      await idle.stop();
      await own.drop();
    }
  });
});
