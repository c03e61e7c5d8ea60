/**
 * What a user does about an endpoint whose circuit is open works at once, and an attempt goes out once: a manual
 * retry is sent now (it is the endpoint's probe), a new URL closes the circuit, and two jobs carrying the same
 * attempt at the same moment send it once. Before (sweep 18), a manual retry waited for the circuit's retry time
 * (up to 10 minutes) while its answer said "now", and then went out twice, 4 ms apart, beside the circuit's
 * deferred copy of the same attempt, with one outcome recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withTenant } from "../../src/db/tenant.ts";
import { enqueueDeliveries } from "../../src/outbound/jobs.ts";
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
  // A circuit that opens after 2 failures and stays open 10 minutes: nothing in these tests may wait for it.
  app = await startTestApp(db, { worker: true, env: { HOOKLEDGER_CIRCUIT_FAILURES: "2", HOOKLEDGER_CIRCUIT_COOLDOWN_SECONDS: "600" } });
  receiver = await startReceiver();
  t = await outboundTenant(app, ["down.one", "moved.one", "twice.one"]);
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

const circuitOf = async (subscriptionId: string) => (await app.call("GET", `/v1/subscriptions/${subscriptionId}`, t.token)).body.health.circuit;

/** Sends two events to a subscription whose endpoint fails, and waits for its circuit to open. */
async function openCircuit(path: string, eventType: string, prefix: string) {
  receiver.respond(path, { status: 503 }, { status: 503 }, { status: 200, body: "ok" });
  const sub = await t.subscribe({ url: receiver.url(path), event_types: [eventType], retry_schedule: [0.05], max_attempts: 5 });
  for (const i of [0, 1]) expect((await t.send({ event_type: eventType, event_id: `${prefix}_${i}` })).status).toBe(202);
  await eventually(async () => ((await circuitOf(sub.id)).state === "open" ? true : undefined), 15_000, "the circuit to open");
  return sub;
}

/** (delivery, attempt) pairs the receiver got more than once on a path. */
function sentTwice(path: string): string[] {
  const seen = new Map<string, number>();
  for (const request of receiver.requests.filter((r) => r.path === path)) {
    const key = `${request.headers["x-hookledger-delivery-id"]}#${request.headers["x-hookledger-attempt"]}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return [...seen].filter(([, n]) => n > 1).map(([key]) => key);
}

describe("an open circuit", () => {
  it("lets a manual retry through at once, as its probe, and closes when it succeeds", async () => {
    const sub = await openCircuit("/down", "down.one", "cm");
    const delivery = await t.deliveryOf("cm_0");
    const before = receiver.requests.filter((r) => r.path === "/down").length;
    const retried = await app.call("POST", `/v1/deliveries/${delivery.id}/retry`, t.token);
    expect(retried.status).toBe(202);
    await t.settled("cm_0", "succeeded", 10_000);
    const sent = receiver.requests.filter((r) => r.path === "/down").slice(before);
    expect(sent.map((r) => r.headers["x-hookledger-delivery-id"])).toEqual([delivery.id]);
    expect((await circuitOf(sub.id)).state).toBe("closed");
    expect(sentTwice("/down")).toEqual([]);
  });

  it("closes when the subscription moves to another URL, and new deliveries go there at once", async () => {
    const sub = await openCircuit("/old-place", "moved.one", "mv");
    const moved = await app.call("PATCH", `/v1/subscriptions/${sub.id}`, t.token, { url: receiver.url("/new-place") });
    expect(moved.status).toBe(200);
    expect(moved.body.health.circuit.state).toBe("closed");
    const entries = await db.owner<{ type: string }[]>`
      select type from hookledger.ledger where org_id = ${t.orgId} and stream = ${`subscription:${sub.id}`} order by position`;
    expect(entries.map((entry) => entry.type).slice(-2)).toEqual(["subscription.updated", "subscription.circuit_closed"]);
    expect((await t.send({ event_type: "moved.one", event_id: "mv_new" })).status).toBe(202);
    await t.settled("mv_new", "succeeded", 10_000);
    // Changing something else leaves a circuit as it is.
    const other = await openCircuit("/still-down", "moved.one", "sd");
    const described = await app.call("PATCH", `/v1/subscriptions/${other.id}`, t.token, { description: "still failing" });
    expect(described.body.health.circuit.state).toBe("open");
  });
});

describe("two jobs carrying the same attempt", () => {
  it("send it once when they run at the same moment", async () => {
    // A slow receiver keeps the first send in flight while the second job loads the same attempt.
    receiver.respond("/twice", { status: 200, body: "ok", delayMs: 400 });
    await t.subscribe({ url: receiver.url("/twice"), event_types: ["twice.one"], retry_schedule: [600] });
    expect((await t.send({ event_type: "twice.one", event_id: "tw_0" })).status).toBe(202);
    const first = await t.settled("tw_0", "succeeded");
    receiver.respond("/twice", { status: 500, delayMs: 400 }, { status: 200, body: "ok", delayMs: 400 });
    await app.call("POST", `/v1/events/tw_0/replay`, t.token, {});
    const replayed = await eventually(async () => {
      const event = await app.call("GET", "/v1/events/tw_0", t.token);
      return event.body.deliveries.find((d: { id: string; status: string }) => d.id !== first.id && d.status === "retrying");
    }, 15_000, "the replayed delivery to fail once");
    // Two jobs, one commit, both due now, for the same next attempt.
    const before = receiver.requests.filter((r) => r.path === "/twice").length;
    await withTenant(db.service, t.orgId, async (tx) => {
      await enqueueDeliveries(tx, t.orgId, [{ deliveryId: replayed.id, attempt: replayed.attempts + 1 }], new Date());
      await enqueueDeliveries(tx, t.orgId, [{ deliveryId: replayed.id, attempt: replayed.attempts + 1 }], new Date());
    });
    await eventually(async () => {
      const event = await app.call("GET", "/v1/events/tw_0", t.token);
      return event.body.deliveries.find((d: { id: string; status: string }) => d.id === replayed.id && d.status === "succeeded");
    }, 15_000, "the replayed delivery to succeed");
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const sent = receiver.requests.filter((r) => r.path === "/twice").slice(before);
    expect(sent.map((r) => r.headers["x-hookledger-attempt"])).toEqual([String(replayed.attempts + 1)]);
    expect(sentTwice("/twice")).toEqual([]);
  });
});
