/**
 * Planner statistics for young tables: while a table is growing fast and still small (up to 100,000 rows), it is
 * analysed each time it has about doubled since its last analysis, instead of waiting for autovacuum.
 *
 * Why: autovacuum looks at each database once per `autovacuum_naptime` (a minute by default) and analyses a table
 * after 10% of it changed. A new installation's tables grow from nothing to tens of thousands of rows within that
 * minute, and a plan made while a table held a handful of rows stays cached in every pooled session until the
 * next analysis: in the steady-state bench, recording a batch of 13 deliveries walked all of the organization's
 * deliveries (`org_id` alone looked as selective as the primary key on a table of 2 rows) — 4,918 buffers and
 * 35 ms per record statement, 17,912 buffers per load, growing with the table. An ANALYZE invalidates those plans.
 * Doubling keeps the count of analyses logarithmic in the table's size; once the table is large, autovacuum's own
 * 10% threshold is the stricter rule and this one stops firing.
 *
 * Runs as the owner (ANALYZE needs it), in the worker process, at start and on a timer; one process at a time per
 * database (a session advisory lock held for the round), so N workers do not analyse the same table N times.
 */
import type pg from "pg";
import type { Logger } from "../log.ts";

/** Changed rows (inserted, updated or deleted) before a table is worth analysing at all. */
const MIN_CHANGED_ROWS = 500;
/** Analyse again once the changes since the last analysis reach this share of the live rows (0.5 ≈ doubled). */
const CHANGED_SHARE = 0.5;
/**
 * Tables with more live rows than this are left to autovacuum (its 10% threshold is then the stricter rule anyway):
 * analysing a large table costs hundreds of milliseconds of the database's CPU and reads (a 400k-row ledger
 * partition took 750 ms), which after a bulk load landed in the middle of live traffic (bench scenario 5: fresh
 * deliveries 0.76–0.88× with it, 0.92–1.30× without).
 */
const MAX_YOUNG_ROWS = 100_000;
/**
 * Statistics target for these analyses (the default is 100): a sample of 3,000 rows instead of 30,000. What went
 * wrong on young tables was their size and how selective `org_id` is, which such a sample measures as well; the
 * full sample cost 120–180 ms of the database's CPU per table in the middle of live traffic (bench scenario 7).
 * Autovacuum's later analyses use the configured target. Columns with a target of their own (sql/065) keep it.
 */
const YOUNG_STATISTICS_TARGET = 10;
/** Advisory lock key: "hookledger young-table statistics". */
const LOCK_KEY = 7_310_466_001;

export class YoungTableStatistics {
  private timer: ReturnType<typeof setInterval> | undefined;
  private running = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: { schemas: readonly string[]; intervalMs: number; log: Logger; maxRows?: number },
  ) {}

  /** Checks at once (a worker starting on a backlog loads it with the plans it makes now), then on the timer. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(), this.options.intervalMs);
    this.timer.unref?.();
    void this.check();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Analyses the tables that need it now, most changed first, each in its own statement so its plans improve as
   * soon as it is done; answers their names (empty when another process holds the turn).
   */
  async check(): Promise<string[]> {
    if (this.running) return [];
    this.running = true;
    const client = await this.pool.connect().catch(() => undefined);
    if (!client) {
      this.running = false;
      return [];
    }
    let locked = false;
    const names: string[] = [];
    try {
      locked = (await client.query<{ ok: boolean }>("select pg_try_advisory_lock($1) as ok", [LOCK_KEY])).rows[0]?.ok === true;
      if (!locked) return [];
      const due = await client.query<{ name: string }>(
        `select format('%I.%I', schemaname, relname) as name
         from pg_stat_user_tables
         where schemaname = any($1::text[])
           and n_mod_since_analyze >= $2::bigint
           and n_mod_since_analyze >= $3::float8 * greatest(n_live_tup, 1)
           and n_live_tup <= $4::bigint
         order by n_mod_since_analyze desc`,
        [this.options.schemas, MIN_CHANGED_ROWS, CHANGED_SHARE, this.options.maxRows ?? MAX_YOUNG_ROWS],
      );
      if (due.rows.length > 0) await client.query(`set default_statistics_target = ${YOUNG_STATISTICS_TARGET}`);
      for (const { name } of due.rows) {
        await client.query(`analyze ${name}`);
        names.push(name);
      }
      if (names.length > 0) this.options.log.debug("analysed young tables", { tables: names });
      return names;
    } catch (error) {
      this.options.log.warn("could not analyse young tables", { error });
      return names;
    } finally {
      await client.query("reset default_statistics_target").catch(() => undefined);
      if (locked) await client.query("select pg_advisory_unlock($1)", [LOCK_KEY]).catch(() => undefined);
      client.release();
      this.running = false;
    }
  }
}
