/**
 * Young tables are analysed as they grow, so plans cached while a table held a few rows are replaced before they
 * walk the whole table (db/youngTableStatistics.ts).
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { YoungTableStatistics } from "../../src/db/youngTableStatistics.ts";
import { createLogger } from "../../src/log.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
let pool: pg.Pool;
let keeper: YoungTableStatistics;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.ownerUrl, max: 3 });
  keeper = new YoungTableStatistics(pool, { schemas: ["hookledger"], intervalMs: 60_000, log: createLogger("warn") });
  // Autovacuum must not analyse first: the test is about our own timing.
  await db.owner`alter table hookledger.deliveries set (autovacuum_enabled = false)`;
});
afterAll(async () => {
  await pool?.end();
  await db.drop();
});

/** Inserts delivery rows as the owner and makes the counts visible to pg_stat_user_tables at once. */
async function addDeliveries(count: number): Promise<void> {
  await db.owner.begin(async (tx) => {
    await tx`
      insert into hookledger.deliveries (org_id, delivery_id, event_id, subscription_id, app_id, status, reason, created_at, updated_at)
      select gen_random_uuid(), gen_random_uuid(), 'evt_' || g, gen_random_uuid(), gen_random_uuid(), 'pending', 'fanout', now(), now()
      from generate_series(1, ${count}::int) g`;
  });
  await db.owner`select pg_stat_force_next_flush()`;
  await db.owner`select 1`;
}

async function lastAnalyzed(): Promise<Date | null> {
  await db.owner`select pg_stat_clear_snapshot()`;
  const [row] = await db.owner<{ at: Date | null }[]>`select last_analyze as at from pg_stat_user_tables where schemaname = 'hookledger' and relname = 'deliveries'`;
  return row?.at ?? null;
}

describe("young-table statistics", () => {
  it("leaves a table alone until enough rows changed", async () => {
    await addDeliveries(100);
    expect(await keeper.check()).not.toContain("hookledger.deliveries");
    expect(await lastAnalyzed()).toBeNull();
  });

  it("analyses a table once it has grown, then again only after it about doubled", async () => {
    await addDeliveries(2_000);
    expect(await keeper.check()).toContain("hookledger.deliveries");
    const first = await lastAnalyzed();
    expect(first).not.toBeNull();
    const [stats] = await db.owner<{ reltuples: number }[]>`select reltuples from pg_class where oid = 'hookledger.deliveries'::regclass`;
    expect(stats?.reltuples).toBe(2_100);
    // A small sample (statistics target 10): at most 11 histogram bounds, where the default target gives up to 101.
    const [histogram] = await db.owner<{ bounds: number }[]>`
      select array_length(histogram_bounds::text::text[], 1) as bounds from pg_stats
      where schemaname = 'hookledger' and tablename = 'deliveries' and attname = 'event_id'`;
    expect(histogram?.bounds).toBeGreaterThan(1);
    expect(histogram?.bounds).toBeLessThanOrEqual(11);
    // The pooled session it used is back to the configured target.
    const settings = await Promise.all([0, 1, 2].map(() => pool.query<{ target: string }>("select current_setting($1) as target", ["default_statistics_target"])));
    expect(settings.map((r) => r.rows[0]?.target)).toEqual(["100", "100", "100"]);

    await addDeliveries(600); // 600 changed of 2,700 live: not yet
    expect(await keeper.check()).not.toContain("hookledger.deliveries");
    await addDeliveries(2_000); // 2,600 changed of 4,700 live: about doubled
    expect(await keeper.check()).toContain("hookledger.deliveries");
    expect((await lastAnalyzed())?.getTime()).toBeGreaterThan(first?.getTime() ?? 0);
  });

  it("lets one process analyse at a time", async () => {
    await addDeliveries(6_000);
    const other = new YoungTableStatistics(pool, { schemas: ["hookledger"], intervalMs: 60_000, log: createLogger("warn") });
    const [a, b] = await Promise.all([keeper.check(), other.check()]);
    // Whichever got the turn analysed; the other found it taken (or nothing left to do).
    expect([...a, ...b].filter((name) => name === "hookledger.deliveries")).toHaveLength(1);
  });

  it("leaves tables larger than its limit to autovacuum", async () => {
    await addDeliveries(20_000); // about doubled, and over 10,000 rows
    const small = new YoungTableStatistics(pool, { schemas: ["hookledger"], intervalMs: 60_000, log: createLogger("warn"), maxRows: 10_000 });
    expect(await small.check()).not.toContain("hookledger.deliveries");
    // It was due: the default limit (100,000 rows) analyses it.
    expect(await keeper.check()).toContain("hookledger.deliveries");
  });
});
