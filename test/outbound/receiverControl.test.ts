/**
 * Delivery control by the receiver: `webhook-delivery: abort-message` ends a delivery after the attempt that
 * carried it (status aborted, not counted against the endpoint); `410 Gone` disables the subscription.
 */
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
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
  app = await startTestApp(db, { worker: true, env: { HOOKLEDGER_AUTO_DISABLE_FAILURES: "2", HOOKLEDGER_AUTO_DISABLE_PERIOD_SECONDS: "0", HOOKLEDGER_CIRCUIT_FAILURES: "0" } });
  receiver = await startReceiver();
});
beforeEach(async () => {
  t = await outboundTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

const briefly = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("webhook-delivery: abort-message", () => {
  it("ends the delivery after one attempt: aborted, attempt recorded with its status, no retry, endpoint health untouched", async () => {
    receiver.respond("/abort", { status: 422, headers: { "Webhook-Delivery": "abort-message" }, body: "not for us" });
    const sub = await t.subscribe({ url: receiver.url("/abort"), retry_schedule: [0.05], max_attempts: 5 });
    await t.send({ event_id: "abort_1" });
    const delivery = await t.settled("abort_1", "aborted");
    expect(delivery.attempts).toBe(1);
    expect(delivery.next_attempt_at).toBeNull();
    await briefly(600);
    expect(receiver.requests.filter((request) => request.path === "/abort")).toHaveLength(1);

    const attempts = await app.call("GET", `/v1/attempts?subscription_id=${sub.id}`, t.token);
    expect(attempts.body.data.map((a: { outcome: string; status_code: number; response_excerpt: string }) => [a.outcome, a.status_code, a.response_excerpt])).toEqual([["aborted", 422, "not for us"]]);
    const aborted = await app.call("GET", `/v1/subscriptions/${sub.id}/deliveries?status=aborted`, t.token);
    expect(aborted.body.data.map((d: { event_id: string }) => d.event_id)).toEqual(["abort_1"]);
    expect((await app.call("GET", "/v1/events?status=aborted", t.token)).body.data.map((e: { id: string }) => e.id)).toEqual(["abort_1"]);

    // Neither a failure nor a success for the endpoint: two aborts would have auto-disabled it (threshold 2).
    await t.send({ event_id: "abort_2" });
    await t.settled("abort_2", "aborted");
    const subscription = (await app.call("GET", `/v1/subscriptions/${sub.id}`, t.token)).body;
    expect(subscription.enabled).toBe(true);
    expect(subscription.health).toMatchObject({ consecutive_failures: 0, last_success_at: null });

    const entries = await db.owner<{ type: string }[]>`
      select type from hookledger.ledger where stream = ${`delivery:${delivery.id}`} order by version`;
    // Its stream begins with the attempt: the event's entry scheduled it (sql/070).
    expect(entries.map((entry) => entry.type)).toEqual(["delivery.attempted", "delivery.aborted"]);
    // The DBA view shows it too.
    const [history] = await db.owner<{ outcome: string; delivery_status: string }[]>`
      select outcome, delivery_status from hookledger_audit.delivery_history where delivery_id = ${delivery.id}`;
    expect(history).toEqual({ outcome: "aborted", delivery_status: "aborted" });
  });

  it("a 2xx answer is a success whatever its headers; other answers without the header still retry", async () => {
    receiver.respond("/abort-ok", { status: 200, headers: { "webhook-delivery": "abort-message" } });
    await t.subscribe({ url: receiver.url("/abort-ok"), event_types: ["invoice.paid"] });
    await t.send({ event_id: "abort_ok" });
    await t.settled("abort_ok", "succeeded");

    receiver.respond("/no-abort", { status: 500, headers: { "webhook-delivery": "keep-going" } }, { status: 200 });
    await t.subscribe({ url: receiver.url("/no-abort"), event_types: ["user.created"], retry_schedule: [0.05] });
    await t.send({ event_id: "no_abort", event_type: "user.created" });
    expect((await t.settled("no_abort", "succeeded")).attempts).toBe(2);
  });

  it("a manual retry sends an aborted delivery again", async () => {
    receiver.respond("/abort-retry", { status: 400, headers: { "webhook-delivery": "abort-message" } }, { status: 200 });
    await t.subscribe({ url: receiver.url("/abort-retry"), event_types: ["invoice.voided"] });
    await t.send({ event_id: "abort_retry", event_type: "invoice.voided" });
    const delivery = await t.settled("abort_retry", "aborted");
    expect((await app.call("POST", `/v1/deliveries/${delivery.id}/retry`, t.token)).status).toBe(202);
    expect((await t.settled("abort_retry", "succeeded")).attempts).toBe(2);
  });
});

describe("410 Gone", () => {
  it("disables the subscription with reason gone after one attempt, cancels its open deliveries and publishes endpoint.disabled", async () => {
    const ops = await app.call("POST", "/v1/operational-webhooks", t.token);
    const opsSub = await app.call("POST", "/v1/subscriptions", t.token, { app_id: ops.body.app_id, url: receiver.url("/ops-gone"), event_types: ["endpoint.disabled", "delivery.exhausted"] });
    receiver.respond("/gone", { status: 410, delayMs: 300 });
    const sub = await t.subscribe({ url: receiver.url("/gone"), retry_schedule: [0.05], max_attempts: 5, max_concurrency: 1 });
    await t.send({ event_id: "gone_1" });
    await t.send({ event_id: "gone_2", event_type: "invoice.voided" });
    const delivery = await t.settled("gone_1", "failed");
    expect(delivery.attempts).toBe(1);
    expect(delivery.last_status_code).toBe(410);

    const subscription = (await app.call("GET", `/v1/subscriptions/${sub.id}`, t.token)).body;
    expect(subscription.enabled).toBe(false);
    expect(subscription.disabled_reason).toBe("gone");
    // The other delivery, open while the 410 came back, is cancelled rather than sent to a gone endpoint.
    const second = await t.deliveryOf("gone_2");
    expect(["cancelled", "failed"]).toContain(second.status);
    await briefly(500);
    expect(receiver.requests.filter((request) => request.path === "/gone").length).toBeLessThanOrEqual(2);

    const [request] = await receiver.waitFor(1, "/ops-gone");
    const event = new Webhook(opsSub.body.secret).verify(request!.body.toString(), request!.headers as Record<string, string>) as { type: string; data: Record<string, unknown> };
    expect(event.type).toBe("endpoint.disabled");
    expect(event.data).toMatchObject({ app_id: t.appId, subscription_id: sub.id, reason: "gone", delivery_id: delivery.id, last_status_code: 410 });
    // Not also "exhausted": the delivery ended because the endpoint is gone, which endpoint.disabled says.
    await briefly(300);
    expect(receiver.requests.filter((r) => r.path === "/ops-gone")).toHaveLength(1);

    // Enabling it again through the API undoes it.
    receiver.respond("/gone", { status: 200 });
    expect((await app.call("POST", `/v1/subscriptions/${sub.id}/enable`, t.token)).body.enabled).toBe(true);
    await t.send({ event_id: "gone_3" });
    await t.settled("gone_3", "succeeded");
  });
});

describe("Retry-After", () => {
  it("is still honoured on 503", async () => {
    receiver.respond("/unavailable", { status: 503, headers: { "Retry-After": "1" } }, { status: 200 });
    await t.subscribe({ url: receiver.url("/unavailable"), retry_schedule: [0.05], event_types: ["user.created"] });
    await t.send({ event_id: "unavailable_1", event_type: "user.created" });
    await t.settled("unavailable_1", "succeeded");
    const [first, second] = await receiver.waitFor(2, "/unavailable");
    expect(second!.at.getTime() - first!.at.getTime()).toBeGreaterThanOrEqual(950);
  });
});
