/**
 * Worker liveness. Every worker process records its graphile-worker ids with a heartbeat and, on the same timer,
 * releases the jobs of workers whose heartbeat stopped (`graphile_worker.force_unlock_workers`).
 *
 * Why: with localQueue a worker locks a batch of jobs ahead of running them; if it is killed, graphile-worker
 * only frees them after a fixed 4 hours. Deliveries are idempotent per attempt (see outbound/attempt.ts), so
 * re-running a job whose worker died mid-delivery is safe: at worst the receiver gets the attempt twice.
 */
import { hostname } from "node:os";
import type pg from "pg";
import type { Logger } from "../log.ts";

/** How long after a connection error the heartbeat looks for jobs whose completion the database lost. */
const LOST_COMPLETIONS_WINDOW_MS = 60_000;
/** A job locked this long by this process without it holding the job has lost its completion. */
const LOST_AFTER_SECONDS = 10;

export class WorkerHeartbeat {
  private readonly ids = new Set<string>();
  /** Jobs this process has fetched and not finished (in its local queue or running). */
  private readonly held = new Set<string>();
  private lookForLostUntil = 0;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: { intervalMs: number; deadAfterMs: number; log: Logger },
  ) {}

  /** Called for each pool/worker id graphile-worker creates. */
  track(id: string): void {
    this.ids.add(id);
  }

  /** Jobs fetched for this process (graphile-worker's local queue got them). */
  hold(jobIds: readonly string[]): void {
    for (const id of jobIds) this.held.add(id);
  }

  /** Jobs this process no longer holds: handed back, or run to the end (completed or failed). */
  letGo(jobIds: readonly string[]): void {
    for (const id of jobIds) this.held.delete(id);
  }

  /**
   * A connection of the runner's pool failed. The pool commits without waiting for the WAL flush (runner.ts), so
   * when Postgres itself went down a job's completion may be lost while this process lives on: the job stays locked
   * by an id whose heartbeat goes on, so the dead-worker sweep never frees it, and graphile-worker only after
   * 4 hours (a sweep saw it on 2 of 4 immediate stops). For a while after such an error each beat frees this
   * process's locked jobs it does not hold; they run again, and find their deliveries recorded.
   */
  noteConnectionError(): void {
    this.lookForLostUntil = Date.now() + LOST_COMPLETIONS_WINDOW_MS;
  }

  /**
   * Forgets ids whose pool has died (its runner stopped on a database outage), and releases their jobs now rather
   * than after the dead-after window; if the database is still away, their heartbeats age out and any process's
   * sweep releases them.
   */
  async retire(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.ids.delete(id);
    // The runner that held them has ended; its jobs are released below (or by the sweep), not by this process.
    this.held.clear();
    if (ids.length === 0) return;
    await this.pool.query("select graphile_worker.force_unlock_workers($1::text[])", [ids]).catch((error: unknown) => this.options.log.warn("could not release the jobs of a stopped worker pool yet", { error }));
    await this.pool.query("delete from hookledger_private.worker_heartbeats where worker_id = any($1::text[])", [ids]).catch(() => undefined);
  }

  start(): void {
    this.timer ??= setInterval(() => void this.beat(), this.options.intervalMs);
    void this.beat();
  }

  async beat(): Promise<void> {
    try {
      if (this.ids.size > 0) {
        await this.pool.query(
          `insert into hookledger_private.worker_heartbeats (worker_id, hostname, pid)
           select unnest($1::text[]), $2, $3
           on conflict (worker_id) do update set last_seen = now()`,
          [[...this.ids], hostname(), process.pid],
        );
      }
      await this.releaseDeadWorkers();
      if (Date.now() < this.lookForLostUntil) await this.releaseLostCompletions();
    } catch (error) {
      this.options.log.warn("worker heartbeat failed", { error });
    }
  }

  /** Unlocks the jobs of workers not seen within the dead-after window, then forgets them. */
  async releaseDeadWorkers(): Promise<string[]> {
    const dead = await this.pool.query<{ worker_id: string }>(
      `delete from hookledger_private.worker_heartbeats
       where last_seen < now() - make_interval(secs => $1::double precision / 1000)
       returning worker_id`,
      [this.options.deadAfterMs],
    );
    const ids = dead.rows.map((row) => row.worker_id);
    if (ids.length > 0) {
      await this.pool.query("select graphile_worker.force_unlock_workers($1::text[])", [ids]);
      this.options.log.warn("released jobs of dead workers", { workers: ids });
    }
    return ids;
  }

  /** Unlocks jobs locked by this process's ids for over LOST_AFTER_SECONDS that it does not hold. */
  async releaseLostCompletions(): Promise<string[]> {
    if (this.ids.size === 0) return [];
    const lost = await this.pool.query<{ id: string }>(
      `update graphile_worker._private_jobs set locked_at = null, locked_by = null
       where locked_by = any($1::text[]) and locked_at < now() - make_interval(secs => $2) and job_queue_id is null
         and not (id = any($3::bigint[]))
       returning id::text`,
      [[...this.ids], LOST_AFTER_SECONDS, [...this.held]],
    );
    const ids = lost.rows.map((row) => row.id);
    if (ids.length > 0) this.options.log.warn("released jobs whose completion the database lost", { jobs: ids });
    return ids;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.ids.size > 0) {
      await this.pool.query("delete from hookledger_private.worker_heartbeats where worker_id = any($1::text[])", [[...this.ids]]).catch(() => undefined);
    }
  }
}
