/**
 * A job does not wait for a hanging endpoint: after a second it hands the send over (the send carries on and
 * records its outcome; a job for the same attempt is queued after its timeout) and completes, so the fast
 * deliveries it carried are recorded at once and the worker's slot is free. Exactly one outcome is recorded per
 * attempt. (A worker killed before the handed-over send ends: test/outbound/crash.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { queuedDeliveries } from "../support/deliverJobs.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let t: Awaited<ReturnType<typeof outboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  receiver = await startReceiver();
  t = await outboundTenant(app, ["order.shipped", "host.hang", "host.ok"]);
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

async function deliveryOf(eventId: string, path: string): Promise<{ delivery_id: string; status: string; attempts: number }> {
  const [row] = await db.owner<{ delivery_id: string; status: string; attempts: number }[]>`
    select d.delivery_id::text, d.status, d.attempts from hookledger.deliveries d join hookledger.subscriptions s using (org_id, subscription_id)
    where d.org_id = ${t.orgId} and d.event_id = ${eventId} and s.url like '%' || ${path}`;
  if (!row) throw new Error(`no delivery of ${eventId} to ${path}`);
  return row;
}

async function standInJobs(deliveryId: string): Promise<{ id: string; run_at: Date; attempt: number }[]> {
  const queued = await queuedDeliveries(db.owner);
  return queued.filter((job) => job.delivery_id === deliveryId).map((job) => ({ id: job.job_id, run_at: job.run_at, attempt: job.attempt }));
}

async function recordedAttempts(deliveryId: string): Promise<{ attempts: number; entries: number }> {
  const [row] = await db.owner<{ attempts: number; entries: number }[]>`
    select (select count(*)::int from hookledger.delivery_attempts where org_id = ${t.orgId} and delivery_id = ${deliveryId}::uuid) as attempts,
           (select count(*)::int from hookledger.ledger where org_id = ${t.orgId} and stream = 'delivery:' || ${deliveryId} and type = 'delivery.attempted') as entries`;
  return row ?? { attempts: -1, entries: -1 };
}

describe("hand-over of a hanging send", () => {
  it("completes the job after a second, records the fast delivery at once and the hanging one when it ends, once", async () => {
    receiver.respond("/fast", { status: 200, body: "ok" });
    receiver.respond("/hang", { status: 200, body: "late", delayMs: 3_000 });
    await t.subscribe({ url: receiver.url("/fast"), event_types: ["order.shipped"] });
    await t.subscribe({ url: receiver.url("/hang"), event_types: ["order.shipped"], timeout_ms: 5_000 });
    expect((await t.send({ event_type: "order.shipped", event_id: "ho_1" })).status).toBe(202);
    const hanging = await deliveryOf("ho_1", "/hang");

    const worker = await startTestApp(db, { api: false, worker: true });
    try {
      const started = Date.now();
      // The fast delivery is recorded, and the job (one job for both) is gone, well before the hanging answer.
      await eventually(async () => ((await deliveryOf("ho_1", "/fast")).status === "succeeded" ? true : undefined), 2_500, "the fast delivery");
      await eventually(async () => {
        const jobs = await standInJobs(hanging.delivery_id);
        return jobs.length === 1 && jobs[0]?.run_at && jobs[0].run_at.getTime() > Date.now() + 20_000 ? jobs : undefined;
      }, 2_500, "only the stand-in job left");
      expect(Date.now() - started).toBeLessThan(2_900);
      expect((await deliveryOf("ho_1", "/hang")).status).toBe("pending");

      // The hanging send ends after 3 s and its outcome is recorded by the worker that made it.
      await eventually(async () => ((await deliveryOf("ho_1", "/hang")).status === "succeeded" ? true : undefined), 6_000, "the late outcome");
      expect(await recordedAttempts(hanging.delivery_id)).toEqual({ attempts: 1, entries: 1 });

      // The stand-in job, run now, finds attempt 1 made: nothing sent or recorded again.
      const [job] = await standInJobs(hanging.delivery_id);
      expect(job?.attempt).toBe(1);
      await db.owner`update graphile_worker._private_jobs set run_at = now() where id = ${job?.id ?? "0"}::bigint`;
      await db.owner`select pg_notify('jobs:insert', '{"count":1}')`;
      await eventually(async () => ((await standInJobs(hanging.delivery_id)).length === 0 ? true : undefined), 5_000, "the stand-in job to complete");
    } finally {
      await worker.stop();
    }
    expect(receiver.requests.filter((request) => request.path === "/hang")).toHaveLength(1);
    expect(await recordedAttempts(hanging.delivery_id)).toEqual({ attempts: 1, entries: 1 });
  });

  it("lets healthy endpoints on the same host deliver while another endpoint there holds many requests hanging", async () => {
    receiver.respond("/host-hang", { status: 200, body: "late", delayMs: 4_000 });
    receiver.respond("/host-ok", { status: 200, body: "ok" });
    await t.subscribe({ url: receiver.url("/host-hang"), event_types: ["host.hang"], timeout_ms: 10_000, max_concurrency: 24 });
    await t.subscribe({ url: receiver.url("/host-ok"), event_types: ["host.ok"] });
    // More hanging requests to one host than the 16 connections it used to be allowed.
    for (let i = 0; i < 20; i++) expect((await t.send({ event_type: "host.hang", event_id: `hh_${i}` })).status).toBe(202);
    const worker = await startTestApp(db, { api: false, worker: true, env: { HOOKLEDGER_WORKER_CONCURRENCY: "16" } });
    try {
      const hanging = await receiver.waitFor(20, "/host-hang", 10_000);
      for (let i = 0; i < 5; i++) expect((await t.send({ event_type: "host.ok", event_id: `hk_${i}` })).status).toBe(202);
      const healthy = await receiver.waitFor(5, "/host-ok", 10_000);
      // Every healthy delivery reached the host before the first hanging request was answered.
      const firstAnswer = Math.min(...hanging.map((request) => request.at.getTime())) + 4_000;
      expect(Math.max(...healthy.map((request) => request.at.getTime()))).toBeLessThan(firstAnswer);
      await eventually(async () => {
        const [row] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.deliveries where org_id = ${t.orgId} and event_id like 'hh_%' and status = 'succeeded'`;
        return row?.n === 20 ? true : undefined;
      }, 15_000, "the hanging deliveries to end and be recorded");
    } finally {
      await worker.stop();
    }
  });
});
