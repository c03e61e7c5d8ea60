/**
 * A slow or failing endpoint must not hold the worker: per-endpoint concurrency, the circuit breaker, rate limits,
 * and retries far ahead kept out of the job queue until they are nearly due.
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { reserveSlots } from "../../src/outbound/endpointPacing.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let t: Awaited<ReturnType<typeof outboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, {
    worker: true,
    env: { HOOKLEDGER_WORKER_CONCURRENCY: "8", HOOKLEDGER_CIRCUIT_FAILURES: "3", HOOKLEDGER_CIRCUIT_COOLDOWN_SECONDS: "2" },
  });
  receiver = await startReceiver();
  t = await outboundTenant(app, ["invoice.paid", "slow.one", "stall.one", "fail.one", "paced.one", "paced.half", "later.one"]);
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

/** A receiver that answers after `delayMs` and remembers the most requests it had in flight at once. */
async function slowReceiver(delayMs: number): Promise<{ url: string; peak: () => number; count: () => number; close: () => Promise<void> }> {
  let inFlight = 0;
  let peak = 0;
  let count = 0;
  const server: Server = createServer((req, res) => {
    inFlight += 1;
    peak = Math.max(peak, inFlight);
    req.resume();
    setTimeout(() => {
      inFlight -= 1;
      count += 1;
      res.end("ok");
    }, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/slow`,
    peak: () => peak,
    count: () => count,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

describe("per-endpoint concurrency", () => {
  it("keeps at most max_concurrency requests in flight to one endpoint, delivers them all, and a healthy endpoint is not held up", async () => {
    const slow = await slowReceiver(300);
    try {
      await t.subscribe({ url: slow.url, event_types: ["slow.one"], max_concurrency: 2 });
      await t.subscribe({ url: receiver.url("/healthy"), event_types: ["slow.one"] });
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => t.send({ event_type: "slow.one", event_id: `slow_${i}` })));
      expect(answers.every((answer) => answer.status === 202)).toBe(true);
      // The healthy endpoint gets all ten while the slow one is still working through its queue.
      await receiver.waitFor(10, "/healthy", 5000);
      expect(slow.count()).toBeLessThan(10);
      await eventually(async () => (slow.count() >= 10 ? true : undefined), 20_000, "the slow endpoint's deliveries");
      expect(slow.peak()).toBeLessThanOrEqual(2);
      // One attempt each (waiting for a slot is not an attempt), once the last answers are recorded.
      const attempts = async () => {
        const [row] = await db.owner<{ attempts: number }[]>`
          select count(*)::int as attempts from hookledger.delivery_attempts where org_id = ${t.orgId} and event_id like 'slow_%'`;
        return row?.attempts;
      };
      await eventually(async () => ((await attempts()) === 20 ? true : undefined), 10_000, "every outcome recorded");
      expect(await attempts()).toBe(20);
    } finally {
      await slow.close();
    }
  });

  it("puts deliveries back at once, and for longer, while none of a hanging endpoint's slots comes back; loses none", async () => {
    const hanging = await slowReceiver(3000);
    const stalledDeferrals = async () =>
      (await app.ctx.metrics.deliveriesDeferred.get()).values.filter((value) => value.labels.reason === "endpoint stalled").reduce((sum, value) => sum + value.value, 0);
    try {
      const before = await stalledDeferrals();
      await t.subscribe({ url: hanging.url, event_types: ["stall.one"], max_concurrency: 1 });
      for (let i = 0; i < 4; i++) expect((await t.send({ event_type: "stall.one", event_id: `stall_${i}` })).status).toBe(202);
      await eventually(async () => (hanging.count() >= 4 ? true : undefined), 40_000, "every delivery to the slow endpoint");
      expect(hanging.peak()).toBe(1);
      // Found its one slot out for over a second: put back without waiting for it, until about when it may return.
      expect(await stalledDeferrals()).toBeGreaterThan(before);
      // Answered is not yet recorded: wait for the fourth outcome, then check there is no fifth.
      const recorded = async () => {
        const [row] = await db.owner<{ attempts: number; succeeded: number }[]>`
          select count(*)::int as attempts, count(*) filter (where outcome = 'succeeded')::int as succeeded
          from hookledger.delivery_attempts where org_id = ${t.orgId} and event_id like 'stall_%'`;
        return row;
      };
      await eventually(async () => ((await recorded())?.attempts === 4 ? true : undefined), 10_000, "every outcome recorded");
      expect(await recorded()).toEqual({ attempts: 4, succeeded: 4 });
    } finally {
      await hanging.close();
    }
  });

  it("refuses a max_concurrency outside 1–1000 and shows the setting", async () => {
    const bad = await app.call("POST", "/v1/subscriptions", t.token, { app_id: t.appId, url: receiver.url("/x"), event_types: ["*"], max_concurrency: 0 });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe("max_concurrency");
    const sub = await t.subscribe({ url: receiver.url("/x"), event_types: ["invoice.paid"], max_concurrency: 3, rate_limit_per_second: 2.5 });
    expect(sub).toMatchObject({ max_concurrency: 3, rate_limit_per_second: 2.5 });
    const patched = await app.call("PATCH", `/v1/subscriptions/${sub.id}`, t.token, { max_concurrency: null });
    expect(patched.body).toMatchObject({ max_concurrency: null, rate_limit_per_second: 2.5 });
  });

  it("refuses a rate_limit_per_second below 0.01 or above 10000, or not a number, naming the field", async () => {
    for (const rate of [0, -1, 0.001, 1e-300, 10001, "5", true]) {
      const bad = await app.call("POST", "/v1/subscriptions", t.token, { app_id: t.appId, url: receiver.url("/x"), event_types: ["*"], rate_limit_per_second: rate });
      expect(bad.status, String(rate)).toBe(400);
      expect(bad.headers.get("content-type")).toContain("application/problem+json");
      expect(bad.body.errors[0].field).toBe("rate_limit_per_second");
    }
    const sub = await t.subscribe({ url: receiver.url("/x"), event_types: ["invoice.paid"], rate_limit_per_second: 0.01 });
    const patched = await app.call("PATCH", `/v1/subscriptions/${sub.id}`, t.token, { rate_limit_per_second: 0.005 });
    expect(patched.status).toBe(400);
    expect(patched.body.errors[0].field).toBe("rate_limit_per_second");
    expect((await app.call("GET", `/v1/subscriptions/${sub.id}`, t.token)).body.rate_limit_per_second).toBe(0.01);
  });
});

describe("circuit breaker", () => {
  it("opens after repeated failures, holds deliveries without attempting them, probes after the cooldown and closes on success", async () => {
    receiver.respond("/flaky", { status: 503 }, { status: 503 }, { status: 503 }, { status: 503 }, { status: 200, body: "ok" });
    const sub = await t.subscribe({ url: receiver.url("/flaky"), event_types: ["fail.one"], retry_schedule: [0.05], max_attempts: 50 });
    for (let i = 0; i < 3; i++) expect((await t.send({ event_type: "fail.one", event_id: `cb_${i}` })).status).toBe(202);

    const opened = await eventually(async () => {
      const current = await app.call("GET", `/v1/subscriptions/${sub.id}`, t.token);
      return current.body.health.circuit.state === "open" ? current.body : undefined;
    }, 15_000, "the circuit to open");
    expect(new Date(opened.health.circuit.retry_at).getTime()).toBeGreaterThan(Date.now() - 1000);
    // A DBA sees it too: the read-only auditor role, through the documented view.
    const [audited] = await db.owner.begin(async (tx) => {
      await tx`set local role hookledger_auditor`;
      return tx<{ circuit_state: string; circuit_retry_at: Date; consecutive_failures: number }[]>`
        select circuit_state, circuit_retry_at, consecutive_failures from hookledger_audit.failing_endpoints where subscription_id = ${sub.id}`;
    });
    expect(audited).toMatchObject({ circuit_state: "open", consecutive_failures: expect.any(Number) });
    expect(audited?.consecutive_failures).toBeGreaterThanOrEqual(3);
    expect(audited?.circuit_retry_at.toISOString()).toBe(opened.health.circuit.retry_at);
    const whileOpen = receiver.requests.filter((request) => request.path === "/flaky").length;
    await new Promise((resolve) => setTimeout(resolve, 800));
    // Deliveries wait while the circuit is open: no attempt is made (or recorded) before the retry time.
    const retryAt = new Date(opened.health.circuit.retry_at).getTime();
    if (Date.now() < retryAt - 100) expect(receiver.requests.filter((request) => request.path === "/flaky").length).toBe(whileOpen);

    // After the cooldown a probe goes through; the endpoint recovers (the 5th answer is 200) and the circuit closes.
    await eventually(async () => {
      const current = await app.call("GET", `/v1/subscriptions/${sub.id}`, t.token);
      return current.body.health.circuit.state === "closed" ? true : undefined;
    }, 30_000, "the circuit to close");
    await eventually(async () => {
      const events = await Promise.all([0, 1, 2].map((i) => app.call("GET", `/v1/events/cb_${i}`, t.token)));
      return events.every((event) => event.body.deliveries[0].status === "succeeded") ? true : undefined;
    }, 30_000, "every delivery to succeed");
    const entries = await db.owner<{ type: string }[]>`
      select type from hookledger.ledger where org_id = ${t.orgId} and stream = ${`subscription:${sub.id}`} and type like 'subscription.circuit_%' order by position`;
    expect(entries.map((entry) => entry.type)).toContain("subscription.circuit_opened");
    expect(entries.at(-1)?.type).toBe("subscription.circuit_closed");
    const [view] = await db.owner<{ state: string }[]>`select circuit_state as state from hookledger.subscriptions where subscription_id = ${sub.id}`;
    expect(view?.state).toBe("closed");
  });
});

describe("rate limit", () => {
  it("reserves every slot of the next second at fractional rates, and the first slot at a rate below 1", async () => {
    // Slots at start, start + 1/r, ...: 2.5/s has three in a second (0, 0.4, 0.8 s), 0.5/s one.
    const reserve = (subscriptionId: string, rate: number) =>
      withTenant(db.service, t.orgId, (tx) => reserveSlots(tx, [{ subscriptionId, count: 10, rate }]));
    const [fast, slow] = [randomUUID(), randomUUID()];
    expect((await reserve(fast, 2.5)).get(fast)?.granted).toBe(3);
    const first = (await reserve(slow, 0.5)).get(slow);
    expect(first?.granted).toBe(1);
    // The next free slot is 2 s after the first: nothing more within this second, and the one after is that slot.
    const second = (await reserve(slow, 0.5)).get(slow);
    expect(second?.granted).toBe(0);
    expect((second?.start.getTime() ?? 0) - (first?.start.getTime() ?? 0)).toBe(2000);
  });

  it("delivers at a rate below 1 per second: the first at once, the next one slot later", async () => {
    await t.subscribe({ url: receiver.url("/half"), event_types: ["paced.half"], rate_limit_per_second: 0.5 });
    const answers = await Promise.all([0, 1].map((i) => t.send({ event_type: "paced.half", event_id: `half_${i}` })));
    expect(answers.map((answer) => answer.status)).toEqual([202, 202]);
    const arrived = await receiver.waitFor(2, "/half", 15_000);
    const [a, b] = arrived.map((request) => request.at.getTime()).sort((x, y) => x - y);
    expect((b ?? 0) - (a ?? 0)).toBeGreaterThanOrEqual(1900);
  });

  it("spreads deliveries to rate_limit_per_second and drops none", async () => {
    await t.subscribe({ url: receiver.url("/paced"), event_types: ["paced.one"], rate_limit_per_second: 4 });
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => t.send({ event_type: "paced.one", event_id: `rl_${i}` })));
    expect(answers.every((answer) => answer.status === 202)).toBe(true);
    const arrived = await receiver.waitFor(10, "/paced", 20_000);
    const times = arrived.map((request) => request.at.getTime()).sort((a, b) => a - b);
    // 10 deliveries at 4/s: at least 9 intervals of 250 ms (a little slack for timer granularity).
    expect((times.at(-1) ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(2000);
    expect(new Set(arrived.map((request) => request.headers["webhook-id"])).size).toBe(10);
  });
});

describe("retries far ahead", () => {
  it("keeps a retry due in minutes out of the job queue, and a promotion job brings it back when due", async () => {
    receiver.respond("/later", { status: 500 }, { status: 200, body: "ok" });
    const later = await t.subscribe({ url: receiver.url("/later"), event_types: ["later.one"], retry_schedule: [600] });
    expect((await t.send({ event_type: "later.one", event_id: "far_1" })).status).toBe(202);
    // Follow this subscription's delivery (an event may match other tests' subscriptions too).
    const deliveryOf = async () => (await app.call("GET", "/v1/events/far_1", t.token)).body.deliveries.find((d: { subscription_id: string }) => d.subscription_id === later.id);
    const delivery = await eventually(async () => {
      const current = await deliveryOf();
      return current?.status === "retrying" ? current : undefined;
    });
    const jobs = await db.owner<{ identifier: string; key: string | null; run_at: Date; payload: { from: string; until: string } }[]>`
      select k.identifier, j.key, j.run_at, j.payload from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id
      where j.payload::text like '%' || ${t.orgId} || '%'`;
    expect(jobs.filter((job) => job.identifier === "deliver" && JSON.stringify(job.payload).includes(delivery.id))).toEqual([]);
    const promotion = jobs.find((job) => job.identifier === "promote_retries" && new Date(job.payload.until).getTime() > new Date(delivery.next_attempt_at).getTime());
    expect(promotion?.key).toMatch(new RegExp(`^promote:${t.orgId}:\\d+$`));
    const due = new Date(delivery.next_attempt_at).getTime();
    expect(new Date(promotion?.payload.from ?? 0).getTime()).toBeLessThanOrEqual(due);
    expect(new Date(promotion?.payload.until ?? 0).getTime()).toBeGreaterThan(due);

    // Ten minutes pass: the delivery is due now, and its bucket's promotion runs.
    await db.owner`update hookledger.deliveries set next_attempt_at = now() where delivery_id = ${delivery.id}`;
    const window = { org_id: t.orgId, from: new Date(Date.now() - 60_000).toISOString(), until: new Date(Date.now() + 60_000).toISOString() };
    await db.owner`update graphile_worker._private_jobs set run_at = now(), payload = ${db.owner.json(window)}::json where key = ${promotion?.key ?? ""}`;
    await receiver.waitFor(2, "/later", 15_000);
    await eventually(async () => ((await deliveryOf())?.status === "succeeded" ? true : undefined));
  });
});
