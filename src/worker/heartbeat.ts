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

export class WorkerHeartbeat {
  private readonly ids = new Set<string>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: { intervalMs: number; deadAfterMs: number; log: Logger },
  ) {}

  /** Called for each pool/worker id graphile-worker creates. */
  track(id: string): void {
    this.ids.add(id);
  }

  /**
   * Forgets ids whose pool has died (its runner stopped on a database outage), and releases their jobs now rather
   * than after the dead-after window; if the database is still away, their heartbeats age out and any process's
   * sweep releases them.
   */
  async retire(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.ids.delete(id);
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

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.ids.size > 0) {
      await this.pool.query("delete from hookledger_private.worker_heartbeats where worker_id = any($1::text[])", [[...this.ids]]).catch(() => undefined);
    }
  }
}
