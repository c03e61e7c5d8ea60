/**
 * Scenario 5: fresh-delivery latency with many retries scheduled far ahead, vs the same probe on an empty queue
 * (same worker, same database, measured first).
 *
 * The retries are shaped like hookledger schedules them now (src/outbound/jobs.ts): a retry more than a minute
 * ahead is a delivery row (status `retrying`, attempts 1, next_attempt_at 1–10 h ahead) with its event and its
 * ledger streams, plus ONE `promote_retries` job per organization and time bucket, written by the service's own
 * scheduleRetries so the buckets are exactly the service's. They are generated as the owner with
 * generate_series: through the API each would cost a failing attempt. Left out: their ledger entries and attempt
 * rows, which nothing on the fresh-delivery path reads (the worker's load joins deliveries, events and
 * ledger_streams only).
 *
 * Second row, the design this replaced: the same retries also queued as one graphile-worker `deliver` job each
 * (run_at = next_attempt_at), so the report keeps the number that motivated the change.
 */
import { withTenant } from "../../../src/db/tenant.ts";
import { PROMOTE_RETRIES_TASK, scheduleRetries } from "../../../src/outbound/jobs.ts";
import type { BenchDatabase } from "../env.ts";
import type { Row } from "../report.ts";
import { sleep, type Profile } from "../stats.ts";
import { profiled, type BenchContext } from "./common.ts";
import { deliveryWorld, freshLatency, startWorkers, type DeliveryWorld } from "./drain.ts";

/** Retrying deliveries, their events and delivery streams, on the world's failing subscription. */
async function insertRetryingDeliveries(world: DeliveryWorld, count: number): Promise<void> {
  const { owner } = world.db;
  const { orgId, appId } = world.tenant;
  const [failing] = await owner<{ id: string }[]>`select subscription_id as id from hookledger.subscriptions where url like '%/fail/0'`;
  if (!failing) throw new Error("scenario 5: the failing subscription is missing");
  await owner.begin(async (tx) => {
    await tx`
      insert into hookledger.events (org_id, event_id, app_id, event_type, content_type, payload_encoding, payload, payload_sha256,
        request_fingerprint, labels, occurred_at, received_at, deliveries_scheduled)
      select ${orgId}::uuid, 'evt_retry_' || g, ${appId}::uuid, 'bench.ping', 'application/json', 'json', p.payload,
        encode(sha256(convert_to(p.payload, 'UTF8')), 'hex'), encode(sha256(convert_to('evt_retry_' || g, 'UTF8')), 'hex'), '{}', now() - interval '10 minutes', now() - interval '10 minutes', 1
      from generate_series(1, ${count}::integer) g,
        lateral (select json_build_object('invoice_id', 'evt_retry_' || g, 'amount_cents', 4200, 'currency', 'EUR')::text as payload) p`;
    await tx`
      insert into hookledger.deliveries (org_id, delivery_id, event_id, subscription_id, app_id, status, reason, attempts, next_attempt_at,
        last_attempt_at, last_status_code, last_error_class, created_at, updated_at)
      select ${orgId}::uuid, gen_random_uuid(), 'evt_retry_' || g, ${failing.id}::uuid, ${appId}::uuid, 'retrying', 'fanout', 1,
        now() + interval '1 hour' + random() * interval '9 hours', now() - interval '10 minutes', 500, 'http_status',
        now() - interval '10 minutes', now() - interval '10 minutes'
      from generate_series(1, ${count}::integer) g`;
    // Versions as the service leaves them: event.received (1), which schedules the delivery (sql/070); the
    // delivery's stream begins with its first attempt (1).
    await tx`
      insert into hookledger.ledger_streams (org_id, stream, version, updated_at)
      select org_id, 'event:' || event_id, 1, created_at from hookledger.deliveries where status = 'retrying'
      union all
      select org_id, 'delivery:' || delivery_id, 1, updated_at from hookledger.deliveries where status = 'retrying'`;
  });
  // As autovacuum would have long before in a service whose retries piled up over hours: inserted here in one go,
  // the 200,000 rows drew an autovacuum pass over them that once landed in the measured window (Heap2 WAL in it,
  // ingest_batch 2.7 ms a call against 1.9: 0.77x, and 1.11x and 1.02x run again right after).
  await owner`vacuum (analyze) hookledger.events, hookledger.deliveries, hookledger.ledger_streams`;
}

/** The promote_retries jobs those retries would have created: the service's scheduleRetries, fed their due times. */
async function schedulePromotions(world: DeliveryWorld): Promise<number> {
  const { owner } = world.db;
  const retrying = await owner<{ delivery_id: string; attempts: number; next_attempt_at: Date }[]>`
    select delivery_id, attempts, next_attempt_at from hookledger.deliveries where status = 'retrying'`;
  await withTenant(owner, world.tenant.orgId, (tx) =>
    scheduleRetries(tx, world.tenant.orgId, retrying.map((r) => ({ deliveryId: r.delivery_id, attempt: r.attempts + 1, runAt: r.next_attempt_at })), new Date()),
  );
  return queuedJobs(world.db, PROMOTE_RETRIES_TASK);
}

/** The replaced design: one future `deliver` job per retry, at its due time, keyed by delivery. */
async function queueRetriesAsJobs(world: DeliveryWorld): Promise<void> {
  const slices = 10; // 20k jobs per add_jobs call at the full size: one call per slice keeps each statement short
  for (let slice = 0; slice < slices; slice++) {
    await world.db.owner`
      select count(*) from graphile_worker.add_jobs(array(
        select row('deliver', json_build_array(json_build_object('org_id', org_id, 'delivery_id', delivery_id, 'attempt', attempts + 1)), null,
                   next_attempt_at, 5, 'delivery:' || delivery_id, 0, null)::graphile_worker.job_spec
        from hookledger.deliveries where status = 'retrying' and abs(hashtext(delivery_id::text)) % ${slices} = ${slice}))`;
  }
  // As autovacuum would within a minute: on statistics of the empty table, the worker's job fetch read all 200,000
  // jobs per call (67 ms a call; 4.2 ms p50 in runs where autovacuum had analysed it), which measured a stale plan, not the design.
  await world.db.owner`analyze graphile_worker._private_jobs`;
}

async function queuedJobs(db: BenchDatabase, task: string): Promise<number> {
  const [row] = await db.owner<{ n: string }[]>`
    select count(*) as n from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
    where t.identifier = ${task}`;
  return Number(row?.n ?? 0);
}

/** graphile-worker's job fetch ("with j as (select … from _private_jobs … for update skip locked)") in a profile. */
function fetchCost(profile: Profile): string {
  const fetch = profile.topStatements.find((statement) => statement.query.startsWith("with j as"));
  return fetch ? `${fetch.meanMs} ms and ${fetch.blocksPerCall} buffers per call` : "not among the top statements";
}

export async function scenarioRetryBacklog(ctx: BenchContext): Promise<Row[]> {
  const { sizes } = ctx;
  const retries = sizes.futureRetries.toLocaleString("en-US");
  const world = await deliveryWorld(ctx, "hlbench_s5", { ok: 0, hang: 0, fail: 1, fresh: true });
  try {
    await startWorkers(ctx, world, 1);
    ctx.log(`  5: control: fresh-delivery latency with an empty queue`);
    await freshLatency(world, 20, 20, "s5warm");
    const processes = [{ label: "api", pid: world.service.pid }, { label: "worker", pid: world.workers[0]?.pid ?? 0 }];
    const probe = (tag: string) => profiled(ctx, world.db, processes, () => freshLatency(world, sizes.freshEvents, sizes.freshPerSecond, tag));
    const { value: control, profile: controlProfile } = await probe("s5a");

    ctx.log(`  5: adding ${retries} future retries as retrying deliveries + promote_retries jobs`);
    const t0 = performance.now();
    await insertRetryingDeliveries(world, sizes.futureRetries);
    const promotions = await schedulePromotions(world);
    ctx.log(`  5: ${promotions} promote_retries jobs for ${retries} retries (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    await sleep(2000);
    ctx.log(`  5: fresh-delivery latency with the retries scheduled`);
    const { value: loaded, profile } = await probe("s5b");

    ctx.log(`  5: the replaced design: the same retries also as ${retries} future deliver jobs`);
    await queueRetriesAsJobs(world);
    await sleep(2000);
    const { value: asJobs, profile: asJobsProfile } = await probe("s5c");

    const s3 = ctx.extras.scenario3 as { fresh?: { p50: number } } | undefined;
    ctx.extras.scenario5 = { control, loaded, asJobs, promotions, controlProfile };
    const baseline = { name: "same probe, empty queue", value: control.p50, unit: "ms", p50Ms: control.p50, p99Ms: control.p99 };
    return [
      {
        id: "5",
        scenario: 5,
        name: `fresh delivery with ${retries} retries 1–10 h ahead (rows + ${promotions} promote jobs), p50`,
        result: { name: "p50 accept → received", value: loaded.p50, unit: "ms", p50Ms: loaded.p50, p99Ms: loaded.p99 },
        baseline,
        ratio: control.p50 / loaded.p50,
        note:
          `target ≥ 0.9; ${retries} retrying deliveries (with events and ledger streams) and ${promotions} promote_retries jobs; ` +
          `control p99 ${control.p99.toFixed(1)} ms vs ${loaded.p99.toFixed(1)} ms with the retries; lost ${control.lost}/${loaded.lost}; ` +
          `graphile-worker job fetch: ${fetchCost(controlProfile)} with an empty queue, ${fetchCost(profile)} with the retries` +
          (s3?.fresh ? `; scenario 3's fresh p50 was ${s3.fresh.p50.toFixed(1)} ms` : ""),
        profile,
      },
      {
        id: "5 (jobs)",
        scenario: 5,
        name: `same, retries also queued as ${retries} future deliver jobs (replaced design), p50`,
        result: { name: "p50 accept → received", value: asJobs.p50, unit: "ms", p50Ms: asJobs.p50, p99Ms: asJobs.p99 },
        baseline,
        ratio: control.p50 / asJobs.p50,
        note: `for comparison only: one graphile-worker job per retry; lost ${asJobs.lost}; job fetch ${fetchCost(asJobsProfile)}`,
        profile: asJobsProfile,
      },
    ];
  } finally {
    await world.stop();
  }
}
