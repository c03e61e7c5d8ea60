/**
 * Wide work yields to narrow work: the jobs of a flush that schedules hundreds of deliveries run after the jobs of
 * narrow flushes due at the same time, whichever organization they belong to. One organization's burst to an
 * application of 1,000 subscriptions (100,000 deliveries in 3,125 jobs) had held another organization's fresh
 * deliveries ~30 s behind it in graphile-worker's first-in-first-out queue. And a busy organization yields to quiet
 * ones: once it has scheduled 2,000 deliveries in about two seconds, its new jobs, however narrow, take priority 1.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { volumePriority, widthPriority } from "../../src/outbound/jobs.ts";
import { RecentVolume } from "../../src/outbound/recentVolume.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { byJob, queuedDeliveries } from "../support/deliverJobs.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "./setup.ts";

const WIDTH = 150;
const WIDE_EVENTS = 8;

let db: TestDatabase;
let api: TestApp;
let worker: TestApp | undefined;
let receiver: Receiver;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApp(db);
  receiver = await startReceiver();
});
afterAll(async () => {
  await worker?.stop();
  await api?.stop();
  await receiver?.close();
  await db.drop();
});

describe("job priorities", () => {
  it("grow with the work's width", () => {
    expect([1, 99, 100, 999, 1000, 10_000].map(widthPriority)).toEqual([0, 0, 1, 1, 2, 2]);
  });

  it("grow with what the organization scheduled in the current second and the one before", () => {
    expect([0, 1_999, 2_000, 19_999, 20_000].map(volumePriority)).toEqual([0, 0, 1, 1, 2]);
    const volume = new RecentVolume();
    expect(volume.add("a", 1_500, 10_100)).toBe(1_500);
    expect(volume.add("b", 10, 10_900)).toBe(10);
    expect(volume.add("a", 600, 11_050)).toBe(2_100); // the second before still counts
    expect(volume.add("a", 1, 12_000)).toBe(601); // 10 s's 1,500 have gone
    expect(volume.add("a", 1, 14_000)).toBe(1); // a gap of a whole second forgets everything
    expect(volume.add("b", 5, 14_001)).toBe(5);
  });

  it("put a quiet organization's delivery ahead of a busy organization's narrow flushes", async () => {
    // The API's clock stands still, so every flush falls in one second of it however slow the machine is.
    const at = new Date();
    const frozen = await startTestApp(db, { now: () => at });
    try {
      const busy = await outboundTenant(frozen);
      const quiet = await outboundTenant(frozen);
      await Promise.all(Array.from({ length: 5 }, (_, i) => busy.subscribe({ url: receiver.url(`/busy/${i}`), event_types: ["invoice.paid"] })));
      await quiet.subscribe({ url: receiver.url("/quiet"), event_types: ["invoice.paid"] });
      // 420 events to 5 subscriptions, 10 at a time: every flush is narrow (at most 50 deliveries), 2,100 in all.
      for (let i = 0; i < 420; i += 10) {
        const sent = await Promise.all(Array.from({ length: 10 }, (_, j) => busy.send({ event_id: `busy_${i + j}` })));
        expect(sent.every((res) => res.status === 202)).toBe(true);
      }
      expect((await quiet.send({ event_id: "quiet_1" })).status).toBe(202);

      const jobs = byJob(await queuedDeliveries(db.owner)).map(([first]) => first!);
      expect(jobs.filter((job) => job.org_id === quiet.orgId).map((job) => job.priority)).toEqual([0]);
      const busyJobs = jobs.filter((job) => job.org_id === busy.orgId);
      expect(busyJobs.reduce((sum, job) => sum + job.items, 0)).toBe(2_100);
      // The first 2,000 deliveries are queued as before; the ones after take priority 1, behind the quiet one. Flushes
      // of one organization run on several connections at once, so a flush counted before the 2,000th delivery can
      // commit its jobs after one counted past it: which job yields is read from the counts, not from the job order.
      const counted = (priority: number) => busyJobs.filter((job) => job.priority === priority).reduce((sum, job) => sum + job.items, 0);
      expect(busyJobs.every((job) => job.priority === 0 || job.priority === 1)).toBe(true);
      expect(counted(0)).toBeLessThan(2_000);
      expect(counted(1)).toBeGreaterThanOrEqual(100);
    } finally {
      await frozen.stop();
      await db.owner`delete from graphile_worker._private_jobs`;
    }
  }, 90_000);

  it("put another organization's narrow delivery ahead of a wide burst queued before it", async () => {
    const wide = await outboundTenant(api);
    const narrow = await outboundTenant(api);
    for (let i = 0; i < WIDTH; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => wide.subscribe({ url: receiver.url(`/wide/${i + j}`), event_types: ["invoice.paid"] })));
    }
    await narrow.subscribe({ url: receiver.url("/narrow"), event_types: ["invoice.paid"] });
    // No worker yet: the burst is queued first, the narrow event after it.
    const burst = await Promise.all(Array.from({ length: WIDE_EVENTS }, (_, i) => wide.send({ event_id: `burst_${i}` })));
    expect(burst.every((res) => res.status === 202)).toBe(true);
    expect((await narrow.send({ event_id: "narrow_1" })).status).toBe(202);

    const jobs = byJob(await queuedDeliveries(db.owner)).map(([first]) => first!);
    expect(jobs.filter((job) => job.org_id === narrow.orgId).map((job) => job.priority)).toEqual([0]);
    const widePriorities = new Set(jobs.filter((job) => job.org_id === wide.orgId).map((job) => job.priority));
    expect([...widePriorities].every((priority) => priority >= 1)).toBe(true);

    // One delivery at a time, so the order the receiver sees is the order the jobs were taken.
    worker = await startTestApp(db, { api: false, worker: true, env: { HOOKLEDGER_WORKER_CONCURRENCY: "1" } });
    await receiver.waitFor(WIDTH * WIDE_EVENTS + 1, undefined, 60_000);
    const order = receiver.requests.map((request) => request.path);
    const narrowAt = order.indexOf("/narrow");
    expect(narrowAt).toBeGreaterThanOrEqual(0);
    // At most the job the worker had taken when it started (32 deliveries) comes first.
    expect(narrowAt).toBeLessThanOrEqual(32);
  }, 90_000);
});
