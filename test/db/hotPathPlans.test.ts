/**
 * The hot path's functions plan their statements once per session (sql/075, sql/098): each carries
 * `plan_cache_mode = force_generic_plan`, and what they run under it, as the service role with row-level security,
 * reads deliveries, events, subscriptions and stream versions by index whatever the batch, as the worker relies on;
 * the one statement that needs its call's values to be planned well, receive_batch's purge of expired nonces, is
 * planned for them on each call (sql/099).
 * The plans are read with auto_explain (nested statements) on a superuser's connection that then takes the service
 * role; on a server where the test's owner may not load it (DATABASE_URL without a superuser) that part is skipped.
 */
import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { outboundTenant } from "../outbound/setup.ts";

let db: TestDatabase;
let app: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  // No worker: the deliveries stay pending, as the worker finds them before it attempts them.
  app = await startTestApp(db, { worker: false });
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

const HOT_PATH = [
  "hookledger.append_entries(text[], integer[], integer[], jsonb)",
  "hookledger.ingest_batch(uuid, bigint, bigint, date, integer, integer, text[], integer[], jsonb, integer, integer, integer)",
  "hookledger.receive_batch(uuid, timestamptz, text[], text[], timestamptz[], integer, text[], integer[], jsonb, jsonb)",
  "hookledger.deliveries_to_attempt(uuid, uuid[])",
  "hookledger.subscriptions_to_attempt(uuid, uuid[], timestamptz)",
  "hookledger.record_successes(uuid, text[], integer[], jsonb)",
  "hookledger.insert_deliver_jobs(jsonb)",
];

/**
 * The plans auto_explain logs for what `run` executes, as hookledger_app: with sequential scans discouraged (the
 * plan's shape on small tables), or with the planner's own choice (`seqScan: true`, on tables large enough to matter).
 */
async function plansOf(run: (sql: postgres.Sql) => Promise<unknown>, options: { seqScan?: boolean } = {}): Promise<string[] | undefined> {
  const plans: string[] = [];
  const sql = postgres(db.ownerUrl, { max: 1, onnotice: (notice) => plans.push(String(notice.message)) });
  try {
    try {
      await sql`load 'auto_explain'`;
    } catch {
      return undefined;
    }
    await sql.unsafe(`set auto_explain.log_min_duration = 0; set auto_explain.log_nested_statements = on;
      set auto_explain.log_level = notice; set client_min_messages = notice; set enable_seqscan = ${options.seqScan ? "on" : "off"}; set role hookledger_app`);
    await run(sql);
    return plans;
  } finally {
    await sql.end();
  }
}

describe("plans of the hot path", () => {
  it("every function on the ingest, receive and delivery paths plans once per session (a generic plan)", async () => {
    const rows = await db.owner<{ fn: string; config: string[] | null }[]>`
      select f.fn, p.proconfig as config from unnest(${HOT_PATH}::text[]) as f(fn) join pg_proc p on p.oid = f.fn::regprocedure`;
    expect(rows).toHaveLength(HOT_PATH.length);
    for (const row of rows) expect({ fn: row.fn, generic: row.config?.includes("plan_cache_mode=force_generic_plan") }).toEqual({ fn: row.fn, generic: true });
  });

  it("the worker's load and its record of successes read by index under those plans, as the service role", async () => {
    const t = await outboundTenant(app);
    const sub = await t.subscribe({ url: "http://127.0.0.1:9/ok" });
    for (let i = 0; i < 40; i += 1) expect((await t.send({ event_id: `plan_${i}` })).status).toBe(202);
    const deliveries = await db.owner<{ delivery_id: string; event_id: string }[]>`
      select delivery_id::text, event_id from hookledger.deliveries where org_id = ${t.orgId} order by event_id`;
    expect(deliveries).toHaveLength(40);
    // With statistics, as the service has them once its tables hold rows (youngTableStatistics.ts, autovacuum): on a
    // table never analyzed the planner prices every index of a one-page table alike.
    await db.owner`analyze hookledger.deliveries, hookledger.events, hookledger.subscriptions, hookledger.ledger_streams`;
    const ids = deliveries.map((d) => d.delivery_id);
    const [first, second] = deliveries;
    if (!first || !second) throw new Error("deliveries expected");
    const success = (delivery: { delivery_id: string; event_id: string }, s: number) => ({
      s,
      type: "delivery.attempted",
      data: {
        attempt_id: randomUUID(), delivery_id: delivery.delivery_id, event_id: delivery.event_id, subscription_id: sub.id,
        attempt_number: 1, outcome: "succeeded", status_code: 204, error_class: null, error_message: null, duration_ms: 3,
        response_headers: {}, response_excerpt: "", next_attempt_at: null,
      },
      meta: { actor: { kind: "worker" } },
    });

    const plans = await plansOf(async (sql) => {
      // Twice each: the second call runs the plans the session cached on the first.
      for (let round = 0; round < 2; round += 1) {
        const loaded = await sql`select delivery_id from hookledger.deliveries_to_attempt(${t.orgId}::uuid, ${ids}::uuid[])`;
        expect(loaded).toHaveLength(40);
        const subscriptions = await sql`select * from hookledger.subscriptions_to_attempt(${t.orgId}::uuid, ${ids}::uuid[], now())`;
        expect(subscriptions).toHaveLength(1);
      }
      for (const delivery of [first, second]) {
        await sql`select hookledger.record_successes(${t.orgId}::uuid, ${[`delivery:${delivery.delivery_id}`]}::text[], ${[0]}::int[],
          ${sql.json([success(delivery, 0)] as never)}::jsonb)`;
      }
    });
    if (plans === undefined) return; // auto_explain not loadable by this owner
    const nested = plans.filter((plan) => !plan.includes("Query Text: select delivery_id from hookledger.deliveries_to_attempt"));
    expect(nested.length).toBeGreaterThan(6);
    const text = nested.join("\n");
    for (const table of ["deliveries", "events", "subscriptions", "ledger_streams", "subscription_secrets"]) {
      expect({ table, seqScan: new RegExp(`Seq Scan on ${table}\\b`).test(text) }).toEqual({ table, seqScan: false });
    }
    expect(text).toMatch(/Index (Only )?Scan using deliveries_pkey on deliveries/);
    expect(text).toMatch(/Index Scan using events_pkey on events/);

    const [done] = await db.owner<{ succeeded: number }[]>`
      select count(*)::int as succeeded from hookledger.deliveries where org_id = ${t.orgId} and status = 'succeeded'`;
    expect(done?.succeeded).toBe(2);
  });

  it("a receipt's purge of expired nonces reads the route's nonces by index, however many it has kept since the session began", async () => {
    // A route keeps a nonce per request for its replay window: tens of thousands on a busy route, none when the
    // service's connections start. Planned for any values (a generic plan, made again whenever the table's
    // statistics change), the purge of a table that holds thousands of nonces in no order on disk is a sequential
    // scan, which read the whole table on every receipt (a bench run: 547 scans of ~30,000 rows in 10 s); planned
    // for each call's values it reads the few that expired through ingress_nonces_expiry_idx.
    const t = await outboundTenant(app);
    const route = "rt_plans";
    const expiry = new Date(Date.now() + 300_000).toISOString();
    const receive = (sql: postgres.Sql, nonce: string) => sql`
      select hookledger.receive_batch(${t.orgId}::uuid, now(), ${[route]}::text[], ${[nonce]}::text[], ${[expiry]}::timestamptz[], 8,
        '{}'::text[], '{}'::int[], '[]'::jsonb, '[]'::jsonb)`;
    const plans = await plansOf(
      async (sql) => {
        await receive(sql, "first");
        // The route's traffic since: 30,000 nonces, 20 of them expired, the rest expiring in the order they came,
        // each stored wherever a purged one left room (in no order on disk), and the table analysed, as autovacuum
        // does while it churns.
        await db.owner`
          insert into hookledger.ingress_nonces (org_id, route_id, nonce_hash, expires_at)
          select ${t.orgId}::uuid, ${route}, md5(i::text), now() + case when i <= 20 then interval '-5 minutes' else interval '1 minute' + random() * interval '4 minutes' end
          from generate_series(1, 30000) as i order by random()`;
        await db.owner`analyze hookledger.ingress_nonces`;
        for (let call = 0; call < 3; call += 1) await receive(sql, `later_${call}`);
      },
      { seqScan: true },
    );
    if (plans === undefined) return; // auto_explain not loadable by this owner
    const purges = plans.filter((plan) => /Delete on ingress_nonces/.test(plan)).slice(1);
    expect(purges).toHaveLength(3);
    for (const purge of purges) expect({ seqScan: /Seq Scan on ingress_nonces/.test(purge), index: /ingress_nonces_expiry_idx/.test(purge) }).toEqual({ seqScan: false, index: true });
    // 3 calls purging at most 8 each: the 20 expired are gone, the 4 new ones kept.
    const [left] = await db.owner<{ expired: number; all: number }[]>`
      select count(*) filter (where expires_at <= now())::int as expired, count(*)::int as all from hookledger.ingress_nonces where org_id = ${t.orgId}`;
    expect(left).toEqual({ expired: 0, all: 30_000 - 20 + 4 });
  });
});
