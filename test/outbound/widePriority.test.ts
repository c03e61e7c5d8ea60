/**
 * Wide work yields to narrow work: the jobs of a flush that schedules hundreds of deliveries run after the jobs of
 * narrow flushes due at the same time, whichever organization they belong to. One organization's burst to an
 * application of 1,000 subscriptions (100,000 deliveries in 3,125 jobs) had held another organization's fresh
 * deliveries ~30 s behind it in graphile-worker's first-in-first-out queue.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { widthPriority } from "../../src/outbound/jobs.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
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

    const jobs = await db.owner<{ org_id: string; priority: number }[]>`
      select payload->0->>'org_id' as org_id, priority from graphile_worker._private_jobs j
      join graphile_worker._private_tasks t on t.id = j.task_id where t.identifier = 'deliver'`;
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
