/**
 * Wakes graphile-worker for jobs the service inserted without add_jobs' notification (sql/031): one
 * `jobs:insert` NOTIFY, in a statement of its own after the inserting commit, at most every WAKEUP_INTERVAL_MS per
 * process. The first batch after a quiet spell notifies at once (latency at rest is one round trip more); batches
 * during the interval are counted into one notification at its end, so no job waits for the worker's poll.
 *
 * Why not in the inserting transaction: NOTIFY holds a database-wide lock from before commit until the commit's
 * WAL flush, which serialised every ingest commit behind the previous one's flush.
 */
import type { Sql } from "../db/connect.ts";

const WAKEUP_INTERVAL_MS = 25;

export class JobWakeups {
  private pending = 0;
  private lastAt = Number.NEGATIVE_INFINITY;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly sql: Sql) {}

  /** `count` jobs were committed: make sure a notification for them follows. */
  jobsInserted(count: number): void {
    if (count <= 0) return;
    this.pending += count;
    if (this.timer) return;
    const wait = this.lastAt + WAKEUP_INTERVAL_MS - performance.now();
    if (wait <= 0) {
      this.send();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.send();
    }, wait);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private send(): void {
    const count = this.pending;
    this.pending = 0;
    this.lastAt = performance.now();
    // graphile-worker reads `count` to decide how many idle workers to nudge. A failure costs latency only: the
    // worker's poll finds the jobs.
    this.sql`select pg_notify('jobs:insert', ${JSON.stringify({ count, r: Math.random() })})`.execute().catch(() => undefined);
  }
}

const wakeups = new WeakMap<Sql, JobWakeups>();

/** The process's wakeups for one connection pool. */
export function jobWakeupsFor(sql: Sql): JobWakeups {
  let found = wakeups.get(sql);
  if (!found) {
    found = new JobWakeups(sql);
    wakeups.set(sql, found);
  }
  return found;
}
