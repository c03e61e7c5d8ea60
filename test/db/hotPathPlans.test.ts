/**
 * The hot path's functions plan their statements once per session (sql/075, sql/098): each carries
 * `plan_cache_mode = force_generic_plan`, and what they run under it, as the service role with row-level security,
 * reads deliveries, events, subscriptions and stream versions by index whatever the batch, as the worker relies on.
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

/** The plans auto_explain logs for what `run` executes, as hookledger_app, with sequential scans discouraged. */
async function plansOf(run: (sql: postgres.Sql) => Promise<unknown>): Promise<string[] | undefined> {
  const plans: string[] = [];
  const sql = postgres(db.ownerUrl, { max: 1, onnotice: (notice) => plans.push(String(notice.message)) });
  try {
    try {
      await sql`load 'auto_explain'`;
    } catch {
      return undefined;
    }
    await sql.unsafe(`set auto_explain.log_min_duration = 0; set auto_explain.log_nested_statements = on;
      set auto_explain.log_level = notice; set client_min_messages = notice; set enable_seqscan = off; set role hookledger_app`);
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
});
