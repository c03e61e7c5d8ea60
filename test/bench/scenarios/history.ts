/**
 * Scenario 6: attempt-history queries at 1M (and optionally 10M) attempts, through GET /v1/attempts.
 *
 * Rows are generated straight into the delivery_attempts projection as the owner (INSERT … SELECT
 * generate_series, then ANALYZE): the ledger entries behind them do not change these queries' plans, and
 * appending 1M through the API would take longer than the whole bench. Shape: 100 subscriptions, 4 attempts per
 * event (2 deliveries × 2 attempts), 10% failed, one attempt every 2.6 s going back in time. The failures all
 * fall on 20 of the subscriptions (half their attempts); the other 80 never failed, so "outcome=failed" for
 * them is the worst case: nothing to find, the whole subscription's history to walk.
 * Baseline: the service's own query function (listAttempts inside withTenant, same SQL, same role and RLS) called
 * directly — so the ratio shows what HTTP, authentication and JSON add on top of the query.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { connect } from "../../../src/db/connect.ts";
import { withTenant } from "../../../src/db/tenant.ts";
import { listAttempts, type AttemptFilter } from "../../../src/outbound/deliveryStore.ts";
import type { Row } from "../report.ts";
import { round, summarize } from "../stats.ts";
import { bootApi, profiled, type BenchContext } from "./common.ts";

const STEP_SECONDS = 2.592;
const LIMIT = 50;

async function generate(ctx: BenchContext, owner: ReturnType<typeof connect>, orgId: string, from: number, to: number, base: string): Promise<number> {
  const started = performance.now();
  for (let start = from; start < to; start += 1_000_000) {
    const end = Math.min(to, start + 1_000_000);
    await owner.unsafe(
      `insert into hookledger.delivery_attempts (org_id, attempt_id, delivery_id, event_id, subscription_id, attempt_number, outcome,
         status_code, error_class, error_message, duration_ms, response_headers, response_excerpt, attempted_at, next_attempt_at)
       select $1::uuid, gen_random_uuid(), md5('d' || (g / 2))::uuid, 'evt_h_' || (g / 4), md5('s' || ((g / 2) % 100))::uuid, g % 2 + 1,
         case when g % 10 = 0 then 'failed' else 'succeeded' end, case when g % 10 = 0 then 500 else 200 end,
         case when g % 10 = 0 then 'http_status' end, case when g % 10 = 0 then 'endpoint answered 500' end, g % 250,
         '{"content-type": "text/plain", "content-length": "2"}'::jsonb, 'ok', $2::timestamptz - g * interval '${STEP_SECONDS} seconds', null
       from generate_series(${start}::bigint, ${end - 1}::bigint) g`,
      [orgId, base],
    );
    ctx.log(`  6: ${end.toLocaleString("en-US")} attempts generated`);
  }
  await owner.unsafe("analyze hookledger.delivery_attempts");
  return (performance.now() - started) / 1000;
}

interface QueryKind {
  key: string;
  name: string;
  filter(i: number): Omit<AttemptFilter, "limit">;
}

export async function scenarioHistory(ctx: BenchContext): Promise<Row[]> {
  const { sizes } = ctx;
  const booted = await bootApi(ctx, "hlbench_s6", []);
  const { db, service, tenant } = booted;
  const service_ = connect(db.serviceUrl, { max: 1, applicationName: "hlbench-history-baseline" });
  const rows: Row[] = [];
  const base = new Date().toISOString();
  let generated = 0;
  try {
    for (const size of sizes.historyRows) {
      const label = size >= 1_000_000 ? `${size / 1_000_000}M` : `${size / 1000}k`;
      const seconds = await generate(ctx, db.owner, tenant.orgId, generated, size, base);
      generated = size;
      const subscriptions = (await db.owner<{ id: string }[]>`select md5('s' || k)::uuid::text as id from generate_series(0, 99) k`).map((r) => r.id);
      const baseMs = Date.parse(base);
      const span = size * STEP_SECONDS * 1000;
      const pick = <T>(list: T[], i: number) => list[(i * 7919) % list.length] as T;
      const kinds: QueryKind[] = [
        { key: "subscription", name: "by subscription", filter: (i) => ({ subscriptionId: pick(subscriptions, i) }) },
        { key: "event", name: "by event", filter: (i) => ({ eventId: `evt_h_${(i * 104_729) % Math.floor(size / 4)}` }) },
        { key: "range", name: "time range (1 h window)", filter: (i) => { const since = baseMs - ((i * 104_729) % Math.floor(span - 3_600_000)) - 3_600_000; return { since: new Date(since), until: new Date(since + 3_600_000) }; } },
        { key: "failed", name: "by subscription, outcome=failed", filter: (i) => ({ subscriptionId: pick(subscriptions, i), outcome: "failed" as const }) },
      ];
      const toQuery = (f: Omit<AttemptFilter, "limit">, after?: string) => {
        const q = new URLSearchParams({ limit: String(LIMIT) });
        if (f.subscriptionId) q.set("subscription_id", f.subscriptionId);
        if (f.eventId) q.set("event_id", f.eventId);
        if (f.outcome) q.set("outcome", f.outcome);
        if (f.since) q.set("since", f.since.toISOString());
        if (f.until) q.set("until", f.until.toISOString());
        if (after) q.set("after", after);
        return `${service.baseUrl}/v1/attempts?${q}`;
      };
      const get = async (url: string) => {
        const response = await fetch(url, { headers: { authorization: `Bearer ${tenant.token}` } });
        const body = (await response.json()) as { data: unknown[]; next_cursor: string | null };
        if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${JSON.stringify(body)}`);
        return body;
      };
      const direct = (filter: AttemptFilter) => withTenant(service_, tenant.orgId, (tx) => listAttempts(tx, filter));
      for (let i = 0; i < 20; i++) for (const kind of kinds) await get(toQuery(kind.filter(i))); // warm-up
      const plans: string[] = [];
      const processes = [{ label: "api", pid: service.pid }];
      for (const kind of kinds) {
        const { value: apiTimes, profile } = await profiled(ctx, db, processes, async () => {
          const times: number[] = [];
          for (let i = 0; i < sizes.historyQueries; i++) {
            const t0 = performance.now();
            const page = await get(toQuery(kind.filter(i + 100)));
            times.push(performance.now() - t0);
            if (i === 0 && page.data.length === 0 && kind.key !== "failed") throw new Error(`6: ${kind.name} returned no rows`);
          }
          return times;
        });
        const sqlTimes: number[] = [];
        for (let i = 0; i < sizes.historyQueries; i++) {
          const t0 = performance.now();
          await direct({ ...kind.filter(i + 100), limit: LIMIT });
          sqlTimes.push(performance.now() - t0);
        }
        plans.push(await explain(db.serviceUrl, tenant.orgId, kind.name, kind.filter(100)));
        // i = 101 picks a subscription that never failed: the slow case of the outcome filter.
        if (kind.key === "failed") plans.push(await explain(db.serviceUrl, tenant.orgId, `${kind.name} (a subscription with no failures)`, kind.filter(101)));
        rows.push(historyRow(label, kind.name, summarize(apiTimes), summarize(sqlTimes), plans.slice(-1)[0] ?? "", profile));
      }
      // Cursor paging: follow next_cursor 10 pages deep from a subscription's first page.
      const { value: pageTimes, profile } = await profiled(ctx, db, processes, async () => {
        const times: number[] = [];
        for (let chain = 0; times.length < sizes.historyQueries; chain++) {
          let cursor: string | undefined;
          for (let pageNo = 0; pageNo < 10 && times.length < sizes.historyQueries; pageNo++) {
            const t0 = performance.now();
            const page = await get(toQuery({ subscriptionId: pick(subscriptions, chain + 500) }, cursor));
            times.push(performance.now() - t0);
            cursor = page.next_cursor ?? undefined;
            if (!cursor) break;
          }
        }
        return times;
      });
      const pagedSql: number[] = [];
      const subscriptionId = pick(subscriptions, 500);
      let after: AttemptFilter["after"];
      for (let i = 0; i < sizes.historyQueries; i++) {
        const t0 = performance.now();
        const found = await direct({ subscriptionId, after, limit: LIMIT });
        pagedSql.push(performance.now() - t0);
        const last = found[LIMIT - 1];
        after = i % 10 === 9 || !last ? undefined : { attemptedAt: last.attempted_at.toISOString(), id: last.attempt_id };
      }
      rows.push(historyRow(label, "cursor paging, 10 pages deep", summarize(pageTimes), summarize(pagedSql), "", profile));
      const file = path.join(ctx.resultsDir, `explain-${label}.txt`);
      await writeFile(file, `-- EXPLAIN (ANALYZE, BUFFERS) of GET /v1/attempts queries at ${size.toLocaleString("en-US")} attempts, as the service role with RLS\n\n${plans.join("\n\n")}\n`);
      ctx.extras[`scenario6_${label}`] = { generateSeconds: round(seconds), explainFile: path.basename(file) };
    }
  } finally {
    await service_.end({ timeout: 5 });
    await service.stop();
  }
  return rows;
}

function historyRow(label: string, name: string, apiTimes: ReturnType<typeof summarize>, sqlTimes: ReturnType<typeof summarize>, plan: string, profile: Row["profile"]): Row {
  const indexes = [...new Set([...plan.matchAll(/(Index(?: Only)? Scan(?: Backward)?) using (\w+)/g)].map((m) => `${m[1]} ${m[2]}`))];
  const seq = /Seq Scan/.test(plan);
  return {
    id: `6 (${label})`,
    scenario: 6,
    name: `history at ${label}: ${name}`,
    result: { name: "API p50", value: apiTimes.p50, unit: "ms", p50Ms: apiTimes.p50, p99Ms: apiTimes.p99 },
    baseline: { name: "same query, direct SQL", value: sqlTimes.p50, unit: "ms", p50Ms: sqlTimes.p50, p99Ms: sqlTimes.p99 },
    ratio: sqlTimes.p50 / apiTimes.p50,
    note: `${apiTimes.count} requests; SQL p99 ${sqlTimes.p99.toFixed(2)} ms` +
      (plan ? `; plan: ${indexes.join(", ") || "no index"}${seq ? ", SEQ SCAN" : ""}` : "") +
      (profile ? `; api peak RSS ${profile.rssPeakMb.api ?? "?"} MB` : ""),
    profile,
  };
}

async function explain(serviceUrl: string, orgId: string, name: string, filter: Omit<AttemptFilter, "limit">): Promise<string> {
  const sql = connect(serviceUrl, { max: 1, applicationName: "hlbench-explain" });
  try {
    const lines = await withTenant(sql, orgId, async (tx) => {
      const where = [
        filter.subscriptionId ? `and subscription_id = '${filter.subscriptionId}'` : "",
        filter.eventId ? `and event_id = '${filter.eventId}'` : "",
        filter.outcome ? `and outcome = '${filter.outcome}'` : "",
        filter.since ? `and attempted_at >= '${filter.since.toISOString()}'` : "",
        filter.until ? `and attempted_at < '${filter.until.toISOString()}'` : "",
      ].join(" ");
      const query = `select * from hookledger.delivery_attempts where org_id = hookledger.current_org_id() ${where}
        order by attempted_at desc, attempt_id desc limit ${LIMIT + 1}`;
      const plan = await tx.unsafe<{ "QUERY PLAN": string }[]>(`explain (analyze, buffers) ${query}`);
      return [`-- ${name}`, query.replace(/\s+/g, " "), ...plan.map((r) => r["QUERY PLAN"])];
    });
    return lines.join("\n");
  } finally {
    await sql.end({ timeout: 5 });
  }
}
