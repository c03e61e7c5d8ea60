/**
 * A job whose completion the database lost stays locked by a worker that lives on: the runner's pool commits
 * without waiting for the WAL flush, so when Postgres itself crashes the last completions can be lost, and the
 * dead-worker sweep never frees a job whose worker keeps beating (graphile-worker would after 4 hours). After a
 * connection error, the heartbeat frees this process's locked jobs it does not hold, and they run again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
let worker: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  worker = await startTestApp(db, { api: false, worker: true, env: { HOOKLEDGER_WORKER_HEARTBEAT_MS: "200" } });
});
afterAll(async () => {
  await worker?.stop();
  await db.drop();
});

describe("a completion the database lost", () => {
  it("frees the job once the worker's connections have failed, and it runs again", async () => {
    // graphile-worker locks a local queue's jobs with its pool's id, which the heartbeat records.
    const workerId = await eventually(async () => {
      const [row] = await db.owner<{ worker_id: string }[]>`select worker_id from hookledger_private.worker_heartbeats where worker_id like 'pool-%'`;
      return row?.worker_id;
    }, 10_000, "the worker's first heartbeat");
    // A job this worker had fetched and completed, as the database saw it after losing the completion.
    // Added and locked in one transaction, so the worker cannot take it first.
    const job = await db.owner.begin(async (tx) => {
      const [added] = await tx<{ id: string }[]>`select (graphile_worker.add_job('deliver', '[]'::json)).id::text as id`;
      await tx`update graphile_worker._private_jobs set locked_by = ${workerId}, locked_at = now() - interval '30 seconds' where id = ${added?.id as string}`;
      return added;
    });
    await new Promise((resolve) => setTimeout(resolve, 600));
    // Without a connection error nothing is touched (a live worker's lock is its own).
    expect(await db.owner`select 1 from graphile_worker._private_jobs where id = ${job?.id as string} and locked_by = ${workerId}`).toHaveLength(1);

    await db.owner`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${db.name} and pid <> pg_backend_pid()`;
    await eventually(async () => ((await db.owner`select 1 from graphile_worker._private_jobs where id = ${job?.id as string}`).length === 0 ? true : undefined), 15_000, "the job to run again and complete");
  }, 30_000);
});
