/**
 * The graphile-worker runner, in library mode (`run({ taskList })`): the CLI cannot load `.ts` tasks on Node 20.
 *
 * It uses its own `pg` pool as the owner role: graphile-worker requires `pg` (it cannot share the postgres.js
 * pool), and its tables have row-level security with no policies. Task code does its tenant work through the
 * service role's postgres.js pool inside `withTenant`, never through this pool.
 *
 * Why localQueue and batched completion: measured on a 2-core box, trivial jobs ran ~2.4k/s without and ~20k/s
 * with. The cost is that a crashed worker leaves a batch locked until graphile-worker's lock timeout, so every
 * task is idempotent (keyed by what it works on).
 */
import { EventEmitter } from "node:events";
import pg from "pg";
import { Logger as WorkerLogger, run, type Job, type Runner, type TaskList, type WorkerEvents } from "graphile-worker";
import type { Logger } from "../log.ts";
import { WorkerHeartbeat } from "./heartbeat.ts";
import { YoungTableStatistics } from "../db/youngTableStatistics.ts";

export interface WorkerHandle {
  readonly runner: Runner;
  isRunning(): boolean;
  stop(): Promise<void>;
}

export interface WorkerOptions {
  ownerUrl: string;
  concurrency: number;
  pollIntervalMs: number;
  taskList: TaskList;
  crontab: string;
  heartbeatMs: number;
  deadAfterMs: number;
  log: Logger;
}

function workerLogger(log: Logger): WorkerLogger {
  return new WorkerLogger((scope) => (level, message) => {
    const fields = { component: "worker", task: scope.taskIdentifier, job_id: scope.jobId };
    if (level === "error") log.error(message, fields);
    else if (level === "warning") log.warn(message, fields);
    else log.debug(message, fields);
  });
}

/**
 * A `pg` pool whose idle and active clients report connection errors to our log instead of crashing.
 *
 * The runner's pool (`asynchronousCommit`) commits without waiting for the WAL flush (`synchronous_commit = off`):
 * job fetches and completions, heartbeats, statistics and cron bookkeeping. Why: in the steady-state bench,
 * sessions spent 0.9 on average waiting for WAL flushes (IO:WalSync, LWLock:WALWrite), and about a third of the
 * commits were these. Why it is safe: nothing durable is decided here. Outcomes are recorded by the tasks through
 * the service pool, with synchronous commits, before their jobs complete; a crash loses at most the last fraction
 * of a second of this pool's commits, and always a suffix of the WAL (a later synchronous commit flushes everything
 * before it), so a lost completion only leaves its job to run again after the dead-worker sweep — its deliveries
 * are then found recorded and skipped — and a lost fetch, retry schedule or cron mark is redone. Migrations keep
 * synchronous commits.
 */
function ownerPool(url: string, max: number, log: Logger, asynchronousCommit = false): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, ...(asynchronousCommit ? { options: "-c synchronous_commit=off" } : {}) });
  pool.on("error", (error) => log.warn("worker pool connection error", { error }));
  pool.on("connect", (client) => client.on("error", (error) => log.warn("worker connection error", { error })));
  return pool;
}

/** The part of graphile-worker's LocalQueue that a clean stop needs; see `returnLocalJobs`. */
interface LocalQueueState {
  readonly mode: string;
  readonly jobQueue: readonly unknown[];
  fetchInProgress: boolean;
  readonly fetchTimer: unknown;
}

/**
 * Hands the jobs waiting in the local queue back to the database before the runner is stopped.
 *
 * Why: in graphile-worker 0.17.3, releasing a local queue in WAITING mode marks it RELEASED before returning its
 * jobs, and the return then throws "Cannot background something when the queue is already released" ("Releasing
 * local queue failed" in the log): nothing waits for the return, which can then lose the race with `pool.end()`
 * and leave the jobs locked until the dead-worker sweep. Moving the queue to TTL_EXPIRED first (what its own TTL
 * timer does) returns them as tracked work that `release()` then waits for.
 */
function returnLocalJobs(queue: LocalQueueState | undefined, log: Logger): void {
  if (!queue || queue.mode !== "WAITING" || queue.jobQueue.length === 0 || queue.fetchInProgress || queue.fetchTimer) return;
  const expire = (queue as unknown as { setModeTtlExpired?: () => void }).setModeTtlExpired;
  if (typeof expire !== "function") return;
  try {
    expire();
  } catch (error) {
    log.debug("could not hand the local queue's jobs back before stopping", { error });
  }
}

/**
 * Puts a batch the local queue fetched in the order graphile-worker chose it: lowest priority number first, then the
 * earliest due, then the oldest. Its fetch selects the batch in that order, but hands the jobs back from an
 * `UPDATE … FROM (…) RETURNING *`, whose order is the join's, not the selection's: with a hash join, heap order, so
 * a narrow flush's job (priority 0, jobs.ts widthPriority) queued after a wide burst ran after the burst's other jobs
 * of the batch (up to `localQueue.size - 1`, 7 with one slot: 214 deliveries in one CI run). Sorted in place: the
 * queue takes the same array right after this event.
 */
export function inQueueOrder(jobs: Job[]): void {
  jobs.sort((a, b) => a.priority - b.priority || a.run_at.getTime() - b.run_at.getTime() || (BigInt(a.id) < BigInt(b.id) ? -1 : BigInt(a.id) > BigInt(b.id) ? 1 : 0));
}

const RESTART_DELAYS_MS = [1000, 2000, 5000, 10_000, 30_000];
/** How often a runner waiting to restart asks whether the database answers again. */
const DATABASE_PROBE_MS = 500;

/** Waits up to `ms`, ending early once the database answers `select 1` (asked every DATABASE_PROBE_MS). */
async function untilDatabaseAnswers(pool: pg.Pool, ms: number, stopping: () => boolean): Promise<void> {
  const until = performance.now() + ms;
  while (!stopping()) {
    const left = until - performance.now();
    if (left <= 0) return;
    await new Promise((resolve) => setTimeout(resolve, Math.min(DATABASE_PROBE_MS, left)));
    try {
      await pool.query("select 1");
      return;
    } catch {
      // Still away: wait on.
    }
  }
}
/** How long a runner whose pool shut itself down may take to end before it is replaced. */
const SELF_SHUTDOWN_GRACE_MS = 2000;
/** How often the worker looks for young tables whose planner statistics are stale (db/youngTableStatistics.ts). */
const STATISTICS_CHECK_MS = 2_000;

export async function startWorker(options: WorkerOptions): Promise<WorkerHandle> {
  const pool = ownerPool(options.ownerUrl, Math.min(options.concurrency + 4, 50), options.log, true);
  const heartbeat = new WorkerHeartbeat(pool, { intervalMs: options.heartbeatMs, deadAfterMs: options.deadAfterMs, log: options.log });
  pool.on("error", () => heartbeat.noteConnectionError());
  pool.on("connect", (client) => client.on("error", () => heartbeat.noteConnectionError()));
  const statistics = new YoungTableStatistics(pool, { schemas: ["hookledger"], intervalMs: STATISTICS_CHECK_MS, log: options.log });
  let current: { runner: Runner; ids: string[]; queues: LocalQueueState[] };
  let stopping = false;
  let running = true;

  const start = async (): Promise<Runner> => {
    const events = new EventEmitter() as WorkerEvents;
    const ids: string[] = [];
    const queues: LocalQueueState[] = [];
    events.on("pool:create", ({ workerPool }) => (ids.push(workerPool.id), heartbeat.track(workerPool.id)));
    events.on("worker:create", ({ worker }) => (ids.push(worker.workerId), heartbeat.track(worker.workerId)));
    events.on("localQueue:init", ({ localQueue }) => queues.push(localQueue as unknown as LocalQueueState));
    events.on("localQueue:getJobs:complete", ({ jobs }) => {
      inQueueOrder(jobs);
      heartbeat.hold(jobs.map((job) => job.id));
    });
    events.on("localQueue:returnJobs", ({ jobs }) => heartbeat.letGo(jobs.map((job) => job.id)));
    events.on("job:complete", ({ job }) => heartbeat.letGo([job.id]));
    const runner = await run({
      events,
      pgPool: pool,
      taskList: options.taskList,
      crontab: options.crontab,
      concurrency: options.concurrency,
      pollInterval: options.pollIntervalMs,
      noHandleSignals: true,
      logger: workerLogger(options.log),
      preset: {
        worker: {
          localQueue: { size: Math.max(options.concurrency, 8) },
          completeJobBatchDelay: 0,
          failJobBatchDelay: 0,
        },
      },
    });
    current = { runner, ids, queues };
    let replaced = false;
    const replace = (error: unknown): void => {
      if (replaced || current.runner !== runner) return;
      replaced = true;
      void supervise(error);
    };
    runner.promise.then(
      () => replace(undefined),
      (error: unknown) => replace(error),
    );
    // graphile-worker shuts a pool down by itself when it cannot record job outcomes (the database went away): it
    // stops fetching and waits for its running jobs, and the runner ends only when they have. Measured with every
    // connection terminated under load (test/db/backendsTerminated.test.ts), that wait could outlast a minute while
    // due jobs sat unfetched: a runner that has not ended soon after is replaced, and its jobs released.
    events.on("pool:gracefulShutdown", ({ message }) => {
      if (stopping) return;
      setTimeout(() => replace(new Error(`graphile-worker shut its pool down: ${message}`)), SELF_SHUTDOWN_GRACE_MS);
    });
    return runner;
  };

  /**
   * A runner that ends without being asked to (its batched job completion failed while the database was away) is
   * replaced: its pool's jobs are released and a new runner starts on the same pool, with backoff, until the
   * database answers again. Without this the process kept answering /health with no worker behind it.
   */
  const supervise = async (error: unknown): Promise<void> => {
    if (stopping) return;
    running = false;
    options.log.error("worker stopped unexpectedly; restarting it", { error });
    const dead = current.ids;
    // Whether the last restart failed with the database answering (then the back-off is slept out in full).
    let failedWithDatabaseUp = false;
    for (let attempt = 0; !stopping; attempt++) {
      const delay = RESTART_DELAYS_MS[Math.min(attempt, RESTART_DELAYS_MS.length - 1)] as number;
      // While the database is away the wait ends as soon as it answers: sleeping out 30 s of back-off after it came
      // back held every delivery that long (a sweep: 27.5 s after a 20 s outage).
      if (failedWithDatabaseUp) await new Promise((resolve) => setTimeout(resolve, delay));
      else await untilDatabaseAnswers(pool, delay, () => stopping);
      if (stopping) return;
      failedWithDatabaseUp = false;
      try {
        await pool.query("select 1");
        failedWithDatabaseUp = true;
        await heartbeat.retire(dead);
        await start();
        running = true;
        options.log.info("worker restarted", { attempt: attempt + 1 });
        return;
      } catch (restartError) {
        options.log.warn("worker restart failed; retrying", { error: restartError });
      }
    }
  };

  await start();
  heartbeat.start();
  statistics.start();
  let stopped: Promise<void> | undefined;
  return {
    get runner() {
      return current.runner;
    },
    isRunning: () => running,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        if (running) {
          for (const queue of current.queues) returnLocalJobs(queue, options.log);
          await current.runner.stop();
        }
        running = false;
        statistics.stop();
        await heartbeat.stop();
        await pool.end();
      })();
      return stopped;
    },
  };
}

/** Installs or upgrades graphile-worker's own schema (as the owner), before our migrations reference it. */
export async function migrateWorkerSchema(ownerUrl: string, log: Logger): Promise<void> {
  const { runMigrations } = await import("graphile-worker");
  const pool = ownerPool(ownerUrl, 2, log);
  try {
    await runMigrations({ pgPool: pool, logger: workerLogger(log) });
  } finally {
    await pool.end();
  }
}
