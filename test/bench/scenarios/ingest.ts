/**
 * Scenario 1 (ingest) and 2 (fan-out). No worker runs: we measure the write path alone.
 *
 * Baselines, same database, same concurrency, same durability (fsync and synchronous_commit untouched):
 *   1: single-row INSERT commits from N connections (commitBaseline.ts): pgbench, the honest ceiling, for the
 *      ratio; postgres.js, the service's own client, in the note;
 *   2: the rows fan-out must write — the `event.received` ledger row naming its F deliveries and the F delivery
 *      rows — inserted straight into hookledger's tables with one multi-row INSERT per table per transaction,
 *      one event per transaction: what the storage costs without hookledger's logic around it.
 */
import { randomUUID } from "node:crypto";
import { connect } from "../../../src/db/connect.ts";
import { commitBaseline, commitMeasure, postgresJsInserts } from "../commitBaseline.ts";
import { closedLoop, eventBody, postEvent, subscribe, type LoadResult, type Tenant } from "../load.ts";
import type { Row } from "../report.ts";
import { coreMsPer } from "../stats.ts";
import { bootApi, profiled, type BenchContext } from "./common.ts";

const latency = (result: LoadResult) => ({ p50Ms: result.latency.p50, p99Ms: result.latency.p99 });

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
    // Warm-up (JIT, pools, caches) at the busiest window's concurrency: the same code runs at every level.
    await closedLoop({ concurrency: Math.max(...sizes.ingestConcurrency), durationMs: sizes.warmUpSeconds * 1000, send });
    for (const concurrency of sizes.ingestConcurrency) {
      ctx.log(`  1: ingest with ${concurrency} concurrent clients`);
      const { value: result, profile } = await profiled(ctx, db, [{ label: "api", pid: service.pid }], () =>
        closedLoop({ concurrency, durationMs: sizes.ingestSeconds * 1000, send }),
      );
      const baseline = await commitBaseline(db.ownerUrl, concurrency, sizes.ingestSeconds);
      const viaPostgresJs = await postgresJsInserts(db.ownerUrl, concurrency, sizes.ingestSeconds);
      rows.push({
        id: `1 (N=${concurrency})`,
        scenario: 1,
        name: `ingest POST /v1/events, ${concurrency} clients`,
        result: { name: "accepted", value: result.perSecond, unit: "events/s", ...latency(result) },
        baseline: commitMeasure(baseline, concurrency),
        ratio: result.perSecond / baseline.perSecond,
        note:
          `${(profile.statements / result.ok).toFixed(1)} SQL statements and ${(profile.commits / result.ok).toFixed(2)} commits per accepted event; ` +
          `${coreMsPer(profile, result.ok).toFixed(2)} core-ms per event (API + Postgres); ` +
          (baseline.averageMs !== undefined ? `pgbench latency average ${baseline.averageMs.toFixed(2)} ms; ` : "") +
          `postgres.js single-row commits ${viaPostgresJs.perSecond.toFixed(0)}/s (p50 ${viaPostgresJs.p50Ms?.toFixed(1)} ms), ratio to it ${(result.perSecond / viaPostgresJs.perSecond).toFixed(3)}` +
          (result.failed ? `; ${result.failed} requests failed: ${result.errors.join("; ")}` : ""),
        profile,
        cpuCeiling: true,
      });
    }
  } finally {
    await service.stop();
  }
  return rows;
}

/**
 * Scenario 2's baseline: per transaction, the rows the service writes for one event — its ledger entry
 * (event.received naming its F deliveries, sql/070; data and meta shaped like the service's) in one INSERT and its
 * F delivery rows in another, the two statements pipelined. As the owner, so row-level security's checks are not
 * in it. (Before sql/070 the service, and so this baseline, also wrote a delivery.scheduled entry per delivery.)
 */
async function multiRowInsertBaseline(ownerUrl: string, tenant: Tenant, subscriptionIds: string[], concurrency: number, seconds: number): Promise<LoadResult> {
  const sql = connect(ownerUrl, { max: concurrency, applicationName: "hlbench-baseline" });
  const meta = { actor: { kind: "token", id: randomUUID(), label: "bench" }, request_id: randomUUID(), ip: "127.0.0.1", user_agent: "hlbench" };
  try {
    await Promise.all(Array.from({ length: concurrency }, () => sql`select 1`));
    let seq = 0;
    return await closedLoop({
      concurrency,
      durationMs: seconds * 1000,
      send: async () => {
        const eventId = `evt_s2_baseline_${seq++}`;
        const payload = JSON.stringify(JSON.parse(eventBody(tenant, "bench.ping", eventId)).payload);
        const deliveries = subscriptionIds.map((subscriptionId) => ({ delivery_id: randomUUID(), subscription_id: subscriptionId }));
        const ledger = [
          {
            stream: `event:${eventId}`,
            type: "event.received",
            data: { event_id: eventId, app_id: tenant.appId, event_type: "bench.ping", content_type: "application/json", payload_encoding: "json", payload, payload_sha256: "0".repeat(64), labels: {}, occurred_at: new Date().toISOString(), deliveries_scheduled: deliveries.length, deliveries },
          },
        ];
        await sql.begin((tx) => [
          tx`insert into hookledger.ledger (org_id, stream, version, type, data, meta)
             select ${tenant.orgId}::uuid, stream, 1, type, data, ${tx.json(meta)}
             from jsonb_to_recordset(${tx.json(ledger as never)}) as r(stream text, type text, data jsonb)`,
          tx`insert into hookledger.deliveries (org_id, delivery_id, event_id, subscription_id, app_id, status, reason, next_attempt_at, created_at, updated_at)
             select ${tenant.orgId}::uuid, delivery_id, ${eventId}, subscription_id, ${tenant.appId}::uuid, 'pending', 'fanout', now(), now(), now()
             from jsonb_to_recordset(${tx.json(deliveries)}) as r(delivery_id uuid, subscription_id uuid)`,
        ]);
        return true;
      },
    });
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export async function scenarioFanout(ctx: BenchContext): Promise<Row[]> {
  const { sizes } = ctx;
  const fanouts = [1, 10, 100];
  const booted = await bootApi(ctx, "hlbench_s2", fanouts.map((f) => `fan.f${f}`));
  const { db, service, tenant, client } = booted;
  const rows: Row[] = [];
  try {
    const subscriptionsOf = new Map<number, string[]>();
    for (const fanout of fanouts) {
      const ids: string[] = [];
      for (let i = 0; i < fanout; i++) ids.push(await subscribe(client, tenant, { url: `http://127.0.0.1:9/ok/${fanout}-${i}`, event_types: [`fan.f${fanout}`] }));
      subscriptionsOf.set(fanout, ids);
    }
    let seq = 0;
    for (const fanout of fanouts) {
      ctx.log(`  2: fan-out to ${fanout} subscriptions`);
      const send = () => postEvent(service.baseUrl, tenant, eventBody(tenant, `fan.f${fanout}`, `evt_s2_${seq++}`));
      await closedLoop({ concurrency: 4, durationMs: 1000, maxRequests: 50, send });
      const { value: result, profile } = await profiled(ctx, db, [{ label: "api", pid: service.pid }], () =>
        closedLoop({ concurrency: sizes.fanoutConcurrency, durationMs: sizes.fanoutSeconds * 1000, send }),
      );
      const baseline = await multiRowInsertBaseline(db.ownerUrl, tenant, subscriptionsOf.get(fanout) ?? [], sizes.fanoutConcurrency, sizes.fanoutSeconds);
      const scheduled = result.perSecond * fanout;
      const raw = baseline.perSecond * fanout;
      rows.push({
        id: `2 (F=${fanout})`,
        scenario: 2,
        name: `fan-out to ${fanout} subscription${fanout > 1 ? "s" : ""}, ${sizes.fanoutConcurrency} clients`,
        result: { name: "scheduled", value: scheduled, unit: "deliveries/s", ...latency(result) },
        baseline: { name: `same ledger + delivery rows, multi-row INSERTs (1 event/tx)`, value: raw, unit: "deliveries/s", ...latency(baseline) },
        ratio: scheduled / raw,
        note: `${result.perSecond.toFixed(0)} events/s vs ${baseline.perSecond.toFixed(0)} baseline transactions/s; ` +
          `${coreMsPer(profile, result.ok * fanout).toFixed(3)} core-ms per scheduled delivery (API + Postgres)` +
          (result.failed ? `; ${result.failed} failed: ${result.errors.join("; ")}` : "") +
          (baseline.failed ? `; baseline: ${baseline.failed} failed: ${baseline.errors.join("; ")}` : ""),
        profile,
        cpuCeiling: true,
      });
    }
  } finally {
    await service.stop();
  }
  return rows;
}
