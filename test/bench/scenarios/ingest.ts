/**
 * Scenario 1 (ingest) and 2 (fan-out). No worker runs: we measure the write path alone.
 *
 * Baselines, same database, same concurrency, same durability (fsync and synchronous_commit untouched):
 *   1: single-row INSERT, one commit each, from N clients — what one durable commit costs on this box;
 *   2: graphile-worker's own addJobs of F jobs per transaction — the least work that schedules F deliveries.
 */
import pg from "pg";
import { makeWorkerUtils } from "graphile-worker";
import { connect } from "../../../src/db/connect.ts";
import { closedLoop, eventBody, postEvent, subscribe, type LoadResult } from "../load.ts";
import type { Row } from "../report.ts";
import { bootApi, profiled, type BenchContext } from "./common.ts";

const latency = (result: LoadResult) => ({ p50Ms: result.latency.p50, p99Ms: result.latency.p99 });

async function insertBaseline(ownerUrl: string, concurrency: number, seconds: number): Promise<LoadResult> {
  const sql = connect(ownerUrl, { max: concurrency, applicationName: "hlbench-baseline" });
  try {
    await sql`create table if not exists bench_commit (id bigserial primary key, payload jsonb not null, created_at timestamptz not null default now())`;
    const payload = { invoice_id: "x", amount_cents: 4200, currency: "EUR" };
    // warm every connection first, so connection set-up is not measured
    await Promise.all(Array.from({ length: concurrency }, () => sql`select 1`));
    return await closedLoop({ concurrency, durationMs: seconds * 1000, send: async () => (await sql`insert into bench_commit (payload) values (${sql.json(payload)})`, true) });
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export async function scenarioIngest(ctx: BenchContext): Promise<Row[]> {
  const { sizes } = ctx;
  const booted = await bootApi(ctx, "hlbench_s1", ["bench.ping"]);
  const { db, service, tenant } = booted;
  const rows: Row[] = [];
  try {
    // The receiver URL is never called (no worker); it only has to pass the egress policy check.
    await subscribe(booted.client, tenant, { url: "http://127.0.0.1:9/ok/0", event_types: ["bench.ping"] });
    let seq = 0;
    const send = () => postEvent(service.baseUrl, tenant, eventBody(tenant, "bench.ping", `evt_s1_${seq++}`));
    await closedLoop({ concurrency: 8, durationMs: 2000, maxRequests: 300, send }); // warm-up: JIT, pools, caches
    for (const concurrency of sizes.ingestConcurrency) {
      ctx.log(`  1: ingest with ${concurrency} concurrent clients`);
      const { value: result, profile } = await profiled(ctx, db, [{ label: "api", pid: service.pid }], () =>
        closedLoop({ concurrency, durationMs: sizes.ingestSeconds * 1000, send }),
      );
      const baseline = await insertBaseline(db.ownerUrl, concurrency, sizes.ingestSeconds);
      rows.push({
        id: `1 (N=${concurrency})`,
        scenario: 1,
        name: `ingest POST /v1/events, ${concurrency} clients`,
        result: { name: "accepted", value: result.perSecond, unit: "events/s", ...latency(result) },
        baseline: { name: "single-row INSERT commits", value: baseline.perSecond, unit: "commits/s", ...latency(baseline) },
        ratio: result.perSecond / baseline.perSecond,
        note: `${(profile.statements / result.ok).toFixed(1)} SQL statements and ${(profile.commits / result.ok).toFixed(1)} commits per accepted event` +
          (result.failed ? `; ${result.failed} requests failed: ${result.errors.join("; ")}` : ""),
        profile,
      });
    }
  } finally {
    await service.stop();
  }
  return rows;
}

async function addJobsBaseline(ownerUrl: string, fanout: number, concurrency: number, seconds: number): Promise<LoadResult> {
  const pool = new pg.Pool({ connectionString: ownerUrl, max: concurrency });
  pool.on("error", () => undefined);
  pool.on("connect", (client) => client.on("error", () => undefined));
  const utils = await makeWorkerUtils({ pgPool: pool });
  try {
    let seq = 0;
    return await closedLoop({
      concurrency,
      durationMs: seconds * 1000,
      send: async () => {
        const batch = seq++;
        await utils.addJobs(Array.from({ length: fanout }, (_, i) => ({ identifier: "bench_baseline", payload: { batch, i }, jobKey: `b:${fanout}:${batch}:${i}`, maxAttempts: 5 })));
        return true;
      },
    });
  } finally {
    await utils.release();
    await pool.end();
  }
}

export async function scenarioFanout(ctx: BenchContext): Promise<Row[]> {
  const { sizes } = ctx;
  const fanouts = [1, 10, 100];
  const booted = await bootApi(ctx, "hlbench_s2", fanouts.map((f) => `fan.f${f}`));
  const { db, service, tenant, client } = booted;
  const rows: Row[] = [];
  try {
    for (const fanout of fanouts) {
      for (let i = 0; i < fanout; i++) await subscribe(client, tenant, { url: `http://127.0.0.1:9/ok/${fanout}-${i}`, event_types: [`fan.f${fanout}`] });
    }
    let seq = 0;
    for (const fanout of fanouts) {
      ctx.log(`  2: fan-out to ${fanout} subscriptions`);
      const send = () => postEvent(service.baseUrl, tenant, eventBody(tenant, `fan.f${fanout}`, `evt_s2_${seq++}`));
      await closedLoop({ concurrency: 4, durationMs: 1000, maxRequests: 50, send });
      const { value: result, profile } = await profiled(ctx, db, [{ label: "api", pid: service.pid }], () =>
        closedLoop({ concurrency: sizes.fanoutConcurrency, durationMs: sizes.fanoutSeconds * 1000, send }),
      );
      const baseline = await addJobsBaseline(db.ownerUrl, fanout, sizes.fanoutConcurrency, sizes.fanoutSeconds);
      const scheduled = result.perSecond * fanout;
      const raw = baseline.perSecond * fanout;
      rows.push({
        id: `2 (F=${fanout})`,
        scenario: 2,
        name: `fan-out to ${fanout} subscription${fanout > 1 ? "s" : ""}, ${sizes.fanoutConcurrency} clients`,
        result: { name: "scheduled", value: scheduled, unit: "deliveries/s", ...latency(result) },
        baseline: { name: `graphile-worker addJobs (${fanout}/tx)`, value: raw, unit: "jobs/s", ...latency(baseline) },
        ratio: scheduled / raw,
        note: `${result.perSecond.toFixed(0)} events/s${result.failed ? `; ${result.failed} failed: ${result.errors.join("; ")}` : ""}`,
        profile,
      });
    }
  } finally {
    await service.stop();
  }
  return rows;
}
