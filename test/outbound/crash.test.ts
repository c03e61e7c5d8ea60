/**
 * At-least-once across crashes, with the real CLI: a worker process is killed (SIGKILL) in the middle of a
 * delivery; another worker releases its jobs once its heartbeat stops, delivers, and records exactly one success.
 * And a worker stopped with SIGTERM finishes the delivery it is making before it exits, including a send its job
 * handed over; a handed-over send cut off by a crash is made again by the job queued for its attempt.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "./setup.ts";

let db: TestDatabase;
let api: TestApp;
let receiver: Receiver;
let t: Awaited<ReturnType<typeof outboundTenant>>;

const workerEnv = () => ({
  ...process.env,
  DATABASE_URL: db.ownerUrl,
  HOOKLEDGER_SERVICE_DATABASE_URL: db.serviceUrl,
  HOOKLEDGER_ENCRYPTION_KEYS: "env:HOOKLEDGER_TEST_KEYRING",
  HOOKLEDGER_EGRESS_ALLOW_LOOPBACK: "true",
  HOOKLEDGER_EGRESS_HTTPS_ONLY: "false",
  HOOKLEDGER_WORKER_HEARTBEAT_MS: "200",
  HOOKLEDGER_WORKER_DEAD_AFTER_MS: "1500",
  HOOKLEDGER_WORKER_POLL_INTERVAL_MS: "100",
  HOOKLEDGER_SHUTDOWN_GRACE_MS: "10000",
  HOOKLEDGER_LOG_LEVEL: "warn",
});

function startWorkerProcess(): ChildProcess & { output: () => string } {
  const child = spawn("node_modules/.bin/bun", ["src/main.ts", "worker"], { env: workerEnv(), stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return Object.assign(child, { output: () => output });
}

const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApp(db, { worker: false });
  receiver = await startReceiver();
  t = await outboundTenant(api);
});
afterAll(async () => {
  await api?.stop();
  await receiver?.close();
  await db.drop();
});

describe("worker crashes and shutdown", () => {
  it("a delivery in flight when its worker is killed is delivered by another worker and recorded once", async () => {
    // The first request hangs (the worker dies while waiting); later ones succeed.
    receiver.respond("/crash", { status: 200, delayMs: 30_000 }, { status: 200, body: "second time lucky" });
    await t.subscribe({ url: receiver.url("/crash"), event_types: ["invoice.paid"] });
    const doomed = startWorkerProcess();
    try {
      await eventually(async () => (doomed.output().includes("worker running") ? true : undefined), 20_000, "worker process to start");
      await t.send({ event_id: "crash_1" });
      await receiver.waitFor(1, "/crash");
      doomed.kill("SIGKILL");
      await exited(doomed);
    } finally {
      doomed.kill("SIGKILL");
    }
    const survivor = await startTestApp(db, {
      api: false,
      worker: true,
      env: { HOOKLEDGER_WORKER_HEARTBEAT_MS: "200", HOOKLEDGER_WORKER_DEAD_AFTER_MS: "1500" },
    });
    try {
      const delivery = await eventually(async () => {
        const found = (await api.call("GET", "/v1/events/crash_1", t.token)).body.deliveries[0];
        return found?.status === "succeeded" ? found : undefined;
      }, 20_000, "the delivery to be retried by the surviving worker");
      expect(delivery.attempts).toBe(1);
      expect(receiver.requests.filter((r) => r.path === "/crash")).toHaveLength(2);
      const [counts] = await db.owner<{ attempted: number; rows: number }[]>`
        select (select count(*)::int from hookledger.ledger where type = 'delivery.attempted' and data->>'delivery_id' = ${delivery.id}) as attempted,
               (select count(*)::int from hookledger.delivery_attempts where delivery_id = ${delivery.id}) as rows`;
      expect(counts).toEqual({ attempted: 1, rows: 1 });
    } finally {
      await survivor.stop();
    }
  });

  it("SIGTERM lets the delivery in flight finish and be recorded before the worker exits", async () => {
    receiver.respond("/graceful", { status: 200, delayMs: 1500, body: "slow but fine" });
    await t.subscribe({ url: receiver.url("/graceful"), event_types: ["invoice.voided"] });
    const worker = startWorkerProcess();
    try {
      await eventually(async () => (worker.output().includes("worker running") ? true : undefined), 20_000, "worker process to start");
      await t.send({ event_id: "graceful_1", event_type: "invoice.voided" });
      await receiver.waitFor(1, "/graceful");
      worker.kill("SIGTERM");
      expect(await exited(worker)).toBe(0);
    } finally {
      worker.kill("SIGKILL");
    }
    expect(worker.output()).toContain("hookledger stopped");
    const delivery = (await api.call("GET", "/v1/events/graceful_1", t.token)).body.deliveries[0];
    expect(delivery).toMatchObject({ status: "succeeded", attempts: 1 });
  });

  it("a send handed over by its job and cut off by a crash is made again by the job queued for that attempt", async () => {
    // The first answer would come long after the kill, whatever the machine's load (and after the send's timeout).
    receiver.respond("/handed", { status: 200, delayMs: 60_000, body: "too late" }, { status: 200, body: "ok" });
    await t.subscribe({ url: receiver.url("/handed"), event_types: ["invoice.voided"], timeout_ms: 15_000 });
    const doomed = startWorkerProcess();
    let deliveryId = "";
    try {
      await eventually(async () => (doomed.output().includes("worker running") ? true : undefined), 20_000, "worker process to start");
      await t.send({ event_id: "handed_1", event_type: "invoice.voided" });
      deliveryId = (await api.call("GET", "/v1/events/handed_1", t.token)).body.deliveries[0].id;
      // After a second the job hands the send over: it completes, leaving a job for attempt 1 due after the timeout.
      await eventually(async () => {
        const [row] = await db.owner<{ n: number }[]>`
          select count(*)::int as n from graphile_worker._private_jobs
          where payload::text like '%' || ${deliveryId} || '%' and locked_at is null and run_at > now() + interval '20 seconds'`;
        return row?.n === 1 ? true : undefined;
      }, 5_000, "the hand-over");
      await receiver.waitFor(1, "/handed");
      doomed.kill("SIGKILL");
      await exited(doomed);
    } finally {
      doomed.kill("SIGKILL");
    }
    expect((await api.call("GET", "/v1/events/handed_1", t.token)).body.deliveries[0].attempts).toBe(0);
    await db.owner`update graphile_worker._private_jobs set run_at = now() where payload::text like '%' || ${deliveryId} || '%'`;
    const survivor = await startTestApp(db, { api: false, worker: true });
    try {
      const delivery = await eventually(async () => {
        const found = (await api.call("GET", "/v1/events/handed_1", t.token)).body.deliveries[0];
        return found?.status === "succeeded" ? found : undefined;
      }, 10_000, "the attempt made again by the queued job");
      expect(delivery.attempts).toBe(1);
    } finally {
      await survivor.stop();
    }
    // At least once: the receiver saw attempt 1 twice; one outcome is recorded.
    expect(receiver.requests.filter((r) => r.path === "/handed")).toHaveLength(2);
    const [counts] = await db.owner<{ attempted: number; rows: number }[]>`
      select (select count(*)::int from hookledger.ledger where type = 'delivery.attempted' and data->>'delivery_id' = ${deliveryId}) as attempted,
             (select count(*)::int from hookledger.delivery_attempts where delivery_id = ${deliveryId}::uuid) as rows`;
    expect(counts).toEqual({ attempted: 1, rows: 1 });
  });
});
