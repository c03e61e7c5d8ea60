/**
 * A delivery cancelled while its request is out (the subscription deleted or disabled meanwhile): the receiver got
 * the request, so the attempt is recorded — after the cancellation, with its real outcome — and nothing follows
 * from it (no retry).
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

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true });
  receiver = await startReceiver();
  t = await outboundTenant(app, ["order.placed"]);
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

interface Delivery {
  id: string;
  subscription_id: string;
  status: string;
  attempts: number;
  next_attempt_at: string | null;
  attempt_history: { attempt: number; outcome: string; status_code: number | null }[];
}

describe("a delivery cancelled while its request is out", () => {
  it("records the attempt the receiver answered, after the cancellation, and schedules nothing more", async () => {
    receiver.respond("/held-ok", { status: 200, body: "ok", delayMs: 1000 });
    receiver.respond("/held-fail", { status: 500, body: "no", delayMs: 1000 });
    const ok = await t.subscribe({ url: receiver.url("/held-ok"), event_types: ["order.placed"] });
    const failing = await t.subscribe({ url: receiver.url("/held-fail"), event_types: ["order.placed"], retry_schedule: [1] });
    expect((await t.send({ event_type: "order.placed", event_id: "inflight_1" })).status).toBe(202);
    await receiver.waitFor(1, "/held-ok");
    await receiver.waitFor(1, "/held-fail");

    // Both requests are out: one subscription is deleted, the other disabled.
    expect((await app.call("DELETE", `/v1/subscriptions/${ok.id}`, t.token)).status).toBe(204);
    expect((await app.call("POST", `/v1/subscriptions/${failing.id}/disable`, t.token)).status).toBe(200);

    const deliveries = await eventually(async () => {
      const event = await app.call("GET", "/v1/events/inflight_1", t.token);
      const all = event.body.deliveries as { id: string }[];
      const full = await Promise.all(all.map(async (d) => (await app.call("GET", `/v1/deliveries/${d.id}`, t.token)).body as Delivery));
      return full.every((d) => d.attempts === 1) ? full : undefined;
    }, 15_000, "both attempts to be recorded");
    const delivered = deliveries.find((d) => d.subscription_id === ok.id);
    const refused = deliveries.find((d) => d.subscription_id === failing.id);
    // The receiver has it: the delivery succeeded, whatever came while it was out.
    expect(delivered).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(delivered?.attempt_history).toEqual([expect.objectContaining({ attempt: 1, outcome: "succeeded", status_code: 200 })]);
    // A failure after the cancellation stays cancelled, its attempt on record, no retry.
    expect(refused).toMatchObject({ status: "cancelled", attempts: 1, next_attempt_at: null });
    expect(refused?.attempt_history).toEqual([expect.objectContaining({ attempt: 1, outcome: "failed", status_code: 500 })]);

    const entries = await db.owner<{ stream: string; type: string }[]>`
      select stream, type from hookledger.ledger where org_id = ${t.orgId} and stream = any(${deliveries.map((d) => `delivery:${d.id}`)}) order by stream, version`;
    for (const d of deliveries) {
      expect(entries.filter((entry) => entry.stream === `delivery:${d.id}`).map((entry) => entry.type)).toEqual(["delivery.cancelled", "delivery.attempted"]);
    }
    // Nothing more goes out: the failed one is not retried.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(receiver.requests.filter((request) => request.path === "/held-fail")).toHaveLength(1);
  });
});
