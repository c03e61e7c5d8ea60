import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { recoverSubscription, RetryError } from "../../src/outbound/replay.ts";
import { outboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let t: Awaited<ReturnType<typeof outboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true, env: { HOOKLEDGER_AUTO_DISABLE_FAILURES: "4", HOOKLEDGER_AUTO_DISABLE_PERIOD_SECONDS: "0" } });
  receiver = await startReceiver();
});
// A tenant per test: subscriptions of one test must not match another test's events.
beforeEach(async () => {
  t = await outboundTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});


describe("retries", () => {
  it("retries on the subscription's schedule until the endpoint succeeds, recording every attempt", async () => {
    receiver.respond("/flaky", { status: 500, body: "boom" }, { status: 502 }, { status: 200, body: "fine" });
    const sub = await t.subscribe({ url: receiver.url("/flaky"), retry_schedule: [0.2, 0.4], event_types: ["invoice.paid"] });
    await t.send({ event_id: "retry_1" });
    const delivery = await t.settled("retry_1", "succeeded");
    expect(delivery.attempts).toBe(3);
    const requests = await receiver.waitFor(3, "/flaky");
    expect(requests.map((r) => r.headers["x-hookledger-attempt"])).toEqual(["1", "2", "3"]);
    // The gaps follow the schedule (0.2 s then 0.4 s, no jitter in tests); a generous upper bound keeps it robust.
    const gaps = [requests[1]!.at.getTime() - requests[0]!.at.getTime(), requests[2]!.at.getTime() - requests[1]!.at.getTime()];
    expect(gaps[0]).toBeGreaterThanOrEqual(190);
    expect(gaps[1]).toBeGreaterThanOrEqual(390);
    // Every retry carries the same webhook-id, so receivers can deduplicate.
    expect(new Set(requests.map((r) => r.headers["webhook-id"])).size).toBe(1);
    const attempts = await app.call("GET", `/v1/attempts?subscription_id=${sub.id}`, t.token);
    expect(attempts.body.data.map((a: { attempt: number; outcome: string; status_code: number; error_class: string | null }) => [a.attempt, a.outcome, a.status_code, a.error_class])).toEqual([
      [3, "succeeded", 200, null],
      [2, "failed", 502, "http_status"],
      [1, "failed", 500, "http_status"],
    ]);
    expect(attempts.body.data[2].response_excerpt).toBe("boom");
    const health = (await app.call("GET", `/v1/subscriptions/${sub.id}`, t.token)).body.health;
    expect(health.consecutive_failures).toBe(0);
    expect(health.last_success_at).not.toBeNull();
  });

  it("marks a delivery failed (dead) when attempts are exhausted", async () => {
    receiver.respond("/dead", { status: 500 });
    const sub = await t.subscribe({ url: receiver.url("/dead"), retry_schedule: [0.05], max_attempts: 3, event_types: ["invoice.voided"] });
    await t.send({ event_id: "dead_1", event_type: "invoice.voided" });
    const delivery = await t.settled("dead_1", "failed");
    expect(delivery.attempts).toBe(3);
    expect(delivery.next_attempt_at).toBeNull();
    const failed = await app.call("GET", `/v1/subscriptions/${sub.id}/deliveries?status=failed`, t.token);
    expect(failed.body.data.map((d: { event_id: string }) => d.event_id)).toEqual(["dead_1"]);
    const [entry] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger where type = 'delivery.failed' and data->>'delivery_id' = ${delivery.id}`;
    expect(entry?.n).toBe(1);
  });

  it("honours Retry-After on 429", async () => {
    receiver.respond("/busy", { status: 429, headers: { "Retry-After": "1" } }, { status: 200 });
    await t.subscribe({ url: receiver.url("/busy"), retry_schedule: [0.05], event_types: ["user.created"] });
    await t.send({ event_id: "busy_1", event_type: "user.created" });
    await t.settled("busy_1", "succeeded");
    const [first, second] = await receiver.waitFor(2, "/busy");
    expect(second!.at.getTime() - first!.at.getTime()).toBeGreaterThanOrEqual(950);
  });

  it("records connection failures with their error class", async () => {
    const sub = await t.subscribe({ url: "http://127.0.0.1:9/closed", max_attempts: 1, event_types: ["invoice.paid"] });
    await t.send({ event_id: "closed_1" });
    const attempt = await eventually(async () => (await app.call("GET", `/v1/attempts?subscription_id=${sub.id}&error_class=connection`, t.token)).body.data[0]);
    expect(attempt).toMatchObject({ outcome: "failed", status_code: null, error_class: "connection" });
  });
});

describe("endpoint health", () => {
  it("auto-disables a subscription after consecutive failures and cancels its open deliveries", async () => {
    receiver.respond("/down", { status: 503 });
    const sub = await t.subscribe({ url: receiver.url("/down"), retry_schedule: [0.05], max_attempts: 10, event_types: ["user.created"], labels: { team: "down" } });
    await t.send({ event_id: "down_1", event_type: "user.created", labels: { team: "down" } });
    const disabled = await eventually(async () => {
      const current = (await app.call("GET", `/v1/subscriptions/${sub.id}`, t.token)).body;
      return current.enabled ? undefined : current;
    });
    expect(disabled.disabled_reason).toBe("auto_disabled");
    expect(disabled.health.auto_disabled_at).not.toBeNull();
    expect(disabled.health.consecutive_failures).toBe(4);
    expect((await t.settled("down_1", "cancelled")).attempts).toBe(4);
    const audit = await db.owner<{ type: string }[]>`select type from hookledger.ledger where stream = ${"subscription:" + sub.id} order by version`;
    expect(audit.map((r) => r.type)).toContain("subscription.auto_disabled");

    // Re-enabling is explicit; recover re-sends what failed or was cancelled since the outage.
    receiver.respond("/down", { status: 200 });
    const refused = await app.call("POST", `/v1/subscriptions/${sub.id}/recover`, t.token, { since: "2000-01-01T00:00:00Z" });
    expect(refused.status).toBe(409);
    expect((await app.call("POST", `/v1/subscriptions/${sub.id}/enable`, t.token)).body.enabled).toBe(true);
    const recovered = await app.call("POST", `/v1/subscriptions/${sub.id}/recover`, t.token, { since: "2000-01-01T00:00:00Z" });
    expect(recovered.body).toEqual({ deliveries_requeued: 1, remaining: false });
    expect((await t.settled("down_1", "succeeded")).attempts).toBe(5);
  });
});

describe("recover window", () => {
  it("re-sends only what failed within since..until, and refuses an empty window naming until", async () => {
    receiver.respond("/window", { status: 500 });
    const sub = await t.subscribe({ url: receiver.url("/window"), max_attempts: 1, event_types: ["invoice.paid"] });
    await t.send({ event_id: "window_early" });
    await t.settled("window_early", "failed");
    const between = new Date();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await t.send({ event_id: "window_late" });
    await t.settled("window_late", "failed");
    receiver.respond("/window", { status: 200 });

    const empty = await app.call("POST", `/v1/subscriptions/${sub.id}/recover`, t.token, { since: between.toISOString(), until: between.toISOString() });
    expect(empty.status).toBe(400);
    expect(empty.body.errors).toEqual([expect.objectContaining({ field: "until" })]);
    const recovered = await app.call("POST", `/v1/subscriptions/${sub.id}/recover`, t.token, { since: "2000-01-01T00:00:00Z", until: between.toISOString() });
    expect(recovered.body).toEqual({ deliveries_requeued: 1, remaining: false });
    expect((await t.settled("window_early", "succeeded")).attempts).toBe(2);
    expect((await t.settled("window_late", "failed")).attempts).toBe(1);
  });
});

describe("replay-missing", () => {
  it("sends a re-enabled subscription what matched it while disabled, once, and nothing it already got", async () => {
    const sub = await t.subscribe({ url: receiver.url("/missed"), event_types: ["invoice.*"], labels: { region: "eu" } });
    await t.send({ event_id: "missed_before", labels: { region: "eu" } });
    await receiver.waitFor(1, "/missed");
    expect((await app.call("POST", `/v1/subscriptions/${sub.id}/disable`, t.token)).status).toBe(200);
    await t.send({ event_id: "missed_1", labels: { region: "eu" } });
    await t.send({ event_id: "missed_2", event_type: "invoice.voided", labels: { region: "eu" } });
    await t.send({ event_id: "missed_other_label", labels: { region: "us" } });
    await t.send({ event_id: "missed_other_type", event_type: "user.created", labels: { region: "eu" } });

    const disabled = await app.call("POST", `/v1/subscriptions/${sub.id}/replay-missing`, t.token, { since: "2000-01-01T00:00:00Z" });
    expect(disabled.status).toBe(409);
    expect((await app.call("POST", `/v1/subscriptions/${sub.id}/enable`, t.token)).status).toBe(200);
    const empty = await app.call("POST", `/v1/subscriptions/${sub.id}/replay-missing`, t.token, { since: "2030-01-01T00:00:00Z", until: "2020-01-01T00:00:00Z" });
    expect(empty.status).toBe(400);
    expect(empty.body.errors).toEqual([expect.objectContaining({ field: "until" })]);

    const [first, second] = await Promise.all(
      [0, 1].map(() => app.call("POST", `/v1/subscriptions/${sub.id}/replay-missing`, t.token, { since: "2000-01-01T00:00:00Z" })),
    );
    expect([first?.status, second?.status]).toEqual([202, 202]);
    // Decided one after the other: the second finds nothing missing.
    expect([first?.body, second?.body].sort((a, b) => b.deliveries_scheduled - a.deliveries_scheduled)).toEqual([
      { deliveries_scheduled: 2, remaining: false },
      { deliveries_scheduled: 0, remaining: false },
    ]);
    const received = await receiver.waitFor(3, "/missed");
    expect(received.map((request) => (request.headers as Record<string, string>)["webhook-id"]).sort()).toEqual(["missed_1", "missed_2", "missed_before"]);
    const replayed = await app.call("GET", "/v1/audit-log?type=event.replayed", t.token);
    expect(replayed.body.data.map((entry: { data: { event_id: string; subscription_id: string } }) => entry.data).sort((a: { event_id: string }, b: { event_id: string }) => a.event_id.localeCompare(b.event_id))).toEqual([
      expect.objectContaining({ event_id: "missed_1", subscription_id: sub.id }),
      expect.objectContaining({ event_id: "missed_2", subscription_id: sub.id }),
    ]);
  });
});

describe("test sends", () => {
  it("are neither replayed to other subscriptions nor counted as missed by them", async () => {
    // Sweep 21: replay-missing sent a subscription every other subscription's test pings (each naming its
    // subscription) and test examples, as events it had missed; a replay sent them to every `*` subscription.
    const tested = await t.subscribe({ url: receiver.url("/tested") });
    const ping = await app.call("POST", `/v1/subscriptions/${tested.id}/test`, t.token);
    expect(ping.status, JSON.stringify(ping.body)).toBe(200);
    const example = await app.call("POST", `/v1/subscriptions/${tested.id}/test`, t.token, { event_type: "invoice.paid", payload: { for: "tested only" } });
    expect(example.status, JSON.stringify(example.body)).toBe(200);
    await t.send({ event_id: "real_event" });
    await receiver.waitFor(3, "/tested");

    const other = await t.subscribe({ url: receiver.url("/other") });
    const missing = await app.call("POST", `/v1/subscriptions/${other.id}/replay-missing`, t.token, { since: "2000-01-01T00:00:00Z" });
    expect(missing.status).toBe(202);
    expect(missing.body).toEqual({ deliveries_scheduled: 1, remaining: false });
    for (const eventId of [ping.body.event_id, example.body.event_id]) {
      const replayed = await app.call("POST", `/v1/events/${eventId}/replay`, t.token);
      expect(replayed.status).toBe(202);
      expect(replayed.body.deliveries_scheduled).toBe(1);
    }
    await receiver.waitFor(5, "/tested");
    const otherGot = await receiver.waitFor(1, "/other");
    expect(otherGot.map((request) => (request.headers as Record<string, string>)["webhook-id"])).toEqual(["real_event"]);
    const deliveries = await app.call("GET", `/v1/subscriptions/${other.id}/deliveries`, t.token);
    expect(deliveries.body.data.map((delivery: { event_id: string }) => delivery.event_id)).toEqual(["real_event"]);
    // Named, a subscription still gets a test's event: naming it is the filter.
    const named = await app.call("POST", `/v1/events/${ping.body.event_id}/replay`, t.token, { subscription_id: other.id });
    expect(named.body.deliveries_scheduled).toBe(1);
  });
});

describe("replay-missing beyond one call", () => {
  it("replays 1,000 events per call and says what remains; the same call again goes on", async () => {
    const sub = await t.subscribe({ url: receiver.url("/missed-many"), event_types: ["invoice.paid"] });
    expect((await app.call("POST", `/v1/subscriptions/${sub.id}/disable`, t.token)).status).toBe(200);
    for (let start = 0; start < 1001; start += 50) {
      const sent = await Promise.all(Array.from({ length: Math.min(50, 1001 - start) }, (_, i) => t.send({ event_id: `many_${start + i}` })));
      expect(sent.every((response) => response.status === 202)).toBe(true);
    }
    expect((await app.call("POST", `/v1/subscriptions/${sub.id}/enable`, t.token)).status).toBe(200);
    const call = () => app.call("POST", `/v1/subscriptions/${sub.id}/replay-missing`, t.token, { since: "2000-01-01T00:00:00Z" });
    expect((await call()).body).toEqual({ deliveries_scheduled: 1000, remaining: true });
    expect((await call()).body).toEqual({ deliveries_scheduled: 1, remaining: false });
    expect((await call()).body).toEqual({ deliveries_scheduled: 0, remaining: false });
    const received = await receiver.waitFor(1001, "/missed-many", 30_000);
    expect(new Set(received.map((request) => (request.headers as Record<string, string>)["webhook-id"])).size).toBe(1001);
  });
});

describe("recover racing a delete", () => {
  it("answers not-found, not a server error, for a subscription deleted after the route found it", async () => {
    const sub = await t.subscribe({ url: receiver.url("/gone"), event_types: ["invoice.paid"] });
    expect((await app.call("DELETE", `/v1/subscriptions/${sub.id}`, t.token)).status).toBe(204);
    // What the route calls once its own lookup has found the subscription: deleted in between, it is not found.
    const raced = await recoverSubscription(app.ctx, t.orgId, sub.id, { since: new Date(0) }, {}).catch((error: unknown) => error);
    expect(raced).toBeInstanceOf(RetryError);
    expect((raced as RetryError).failure).toBe("subscription_not_found");
    const answered = await app.call("POST", `/v1/subscriptions/${sub.id}/recover`, t.token, { since: "2000-01-01T00:00:00Z" });
    expect(answered.status).toBe(404);
    expect(answered.body.type).toMatch(/not-found$/);
  });
});

describe("replay and manual retry", () => {
  it("replays an event to every matching subscription, or to one", async () => {
    const a = await t.subscribe({ url: receiver.url("/replay-a"), event_types: ["invoice.paid"], labels: { replay: "yes" } });
    await t.subscribe({ url: receiver.url("/replay-b"), event_types: ["invoice.*"], labels: { replay: "yes" } });
    await t.send({ event_id: "replay_1", labels: { replay: "yes" } });
    await receiver.waitFor(1, "/replay-a");
    await receiver.waitFor(1, "/replay-b");
    const all = await app.call("POST", "/v1/events/replay_1/replay", t.token);
    expect(all.status).toBe(202);
    expect(all.body.deliveries_scheduled).toBe(2);
    await receiver.waitFor(2, "/replay-a");
    await receiver.waitFor(2, "/replay-b");
    const one = await app.call("POST", "/v1/events/replay_1/replay", t.token, { subscription_id: a.id });
    expect(one.body.deliveries_scheduled).toBe(1);
    await receiver.waitFor(3, "/replay-a");
    expect(receiver.requests.filter((r) => r.path === "/replay-b")).toHaveLength(2);
    const audit = await app.call("GET", "/v1/audit-log?type=event.replayed", t.token);
    expect(audit.body.data).toHaveLength(2);
    expect(audit.body.data[0].actor.id).toBe(t.tokenId);
  });

  it("retries one failed delivery now, continuing its attempt numbers", async () => {
    receiver.respond("/manual", { status: 500 }, { status: 200 });
    await t.subscribe({ url: receiver.url("/manual"), max_attempts: 1, event_types: ["invoice.paid"], labels: { manual: "yes" } });
    await t.send({ event_id: "manual_1", labels: { manual: "yes" } });
    const failed = await t.settled("manual_1", "failed");
    const retried = await app.call("POST", `/v1/deliveries/${failed.id}/retry`, t.token);
    expect(retried.status).toBe(202);
    expect(retried.body.status).toBe("pending");
    const done = await t.settled("manual_1", "succeeded");
    expect(done.attempts).toBe(2);
    const again = await app.call("POST", `/v1/deliveries/${failed.id}/retry`, t.token);
    expect(again.status).toBe(409);
    const detail = await app.call("GET", `/v1/deliveries/${failed.id}`, t.token);
    expect(detail.body.attempt_history.map((a: { attempt: number }) => a.attempt)).toEqual([2, 1]);
  });

  it("says why a delivery of a disabled or deleted subscription is not retried", async () => {
    receiver.respond("/gone-sub", { status: 500 });
    const sub = await t.subscribe({ url: receiver.url("/gone-sub"), max_attempts: 1, event_types: ["invoice.paid"], labels: { gone: "yes" } });
    await t.send({ event_id: "gone_sub_1", labels: { gone: "yes" } });
    const failed = await t.settled("gone_sub_1", "failed");
    expect((await app.call("POST", `/v1/subscriptions/${sub.id}/disable`, t.token)).status).toBe(200);
    const disabled = await app.call("POST", `/v1/deliveries/${failed.id}/retry`, t.token);
    expect([disabled.status, disabled.body.detail]).toEqual([409, "the subscription is disabled; enable it first"]);
    expect((await app.call("DELETE", `/v1/subscriptions/${sub.id}`, t.token)).status).toBe(204);
    const deleted = await app.call("POST", `/v1/deliveries/${failed.id}/retry`, t.token);
    expect([deleted.status, deleted.body.detail]).toEqual([409, "the subscription was deleted; replay the event to a subscription that exists"]);
  });
});
