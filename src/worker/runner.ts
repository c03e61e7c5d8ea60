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
import { Logger as WorkerLogger, run, type Runner, type TaskList, type WorkerEvents } from "graphile-worker";
import type { Logger } from "../log.ts";
import { WorkerHeartbeat } from "./heartbeat.ts";

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

/** A `pg` pool whose idle and active clients report connection errors to our log instead of crashing. */
function ownerPool(url: string, max: number, log: Logger): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on("error", (error) => log.warn("worker pool connection error", { error }));
  pool.on("connect", (client) => client.on("error", (error) => log.warn("worker connection error", { error })));
  return pool;
}

export async function startWorker(options: WorkerOptions): Promise<WorkerHandle> {
  const pool = ownerPool(options.ownerUrl, Math.min(options.concurrency + 4, 50), options.log);
  let running = true;
  const heartbeat = new WorkerHeartbeat(pool, { intervalMs: options.heartbeatMs, deadAfterMs: options.deadAfterMs, log: options.log });
  const events = new EventEmitter() as WorkerEvents;
  events.on("pool:create", ({ workerPool }) => heartbeat.track(workerPool.id));
  events.on("worker:create", ({ worker }) => heartbeat.track(worker.workerId));
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
  heartbeat.start();
  runner.promise.then(
    () => (running = false),
    (error: unknown) => {
      running = false;
      options.log.error("worker stopped unexpectedly", { error });
    },
  );
  let stopped: Promise<void> | undefined;
  return {
    runner,
    isRunning: () => running,
    stop() {
      stopped ??= (async () => {
        if (running) await runner.stop();
        running = false;
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
