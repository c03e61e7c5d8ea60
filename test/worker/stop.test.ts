/**
 * Stopping a worker with jobs waiting in its local queue hands them back at once: nothing stays locked for the
 * dead-worker sweep, and graphile-worker's "Releasing local queue failed" does not happen.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "../outbound/setup.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  receiver = await startReceiver();
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

describe("worker stop", () => {
  it("returns the local queue's jobs to the database and leaves none locked", async () => {
    const t = await outboundTenant(app);
    receiver.respond("/slow", { status: 200, body: "ok", delayMs: 1500 });
    await t.subscribe({ url: receiver.url("/slow"), max_concurrency: 1 });
    // One job per event: sent one after another, each is its own batch.
    for (let i = 0; i < 6; i++) expect((await t.send({ event_id: `stop_${i}` })).status).toBe(202);

    const lines: string[] = [];
    const streams = [process.stdout, process.stderr] as const;
    const writes = streams.map((stream) => stream.write.bind(stream));
    streams.forEach((stream, i) => {
      stream.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
        lines.push(String(chunk));
        return (writes[i] as typeof stream.write)(chunk, ...rest);
      }) as typeof stream.write;
    });
    try {
      const worker = await startTestApp(db, { api: false, worker: true, env: { HOOKLEDGER_WORKER_CONCURRENCY: "1", HOOKLEDGER_LOG_LEVEL: "warn" } });
      await receiver.waitFor(1, "/slow");
      await worker.stop();
    } finally {
      streams.forEach((stream, i) => (stream.write = writes[i] as typeof stream.write));
    }
    const locked = await db.owner<{ n: number }[]>`select count(*)::int as n from graphile_worker._private_jobs where locked_at is not null`;
    expect(locked[0]?.n).toBe(0);
    const waiting = await db.owner<{ n: number }[]>`
      select count(*)::int as n from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id where k.identifier = 'deliver'`;
    expect(waiting[0]?.n).toBeGreaterThan(0);
    expect(lines.join("")).not.toContain("Releasing local queue failed");
  });
});
