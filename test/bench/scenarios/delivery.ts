/**
 * Scenarios 3 (delivery backlog), 4 (slow and failing endpoints), 5 (future-retry backlog) and 7 (worker scaling).
 * Every scenario gets its own database, API process and receiver, so no queue state leaks between them.
 */
import type { Row } from "../report.ts";
import { round } from "../stats.ts";
import { profiled, rowOf, type BenchContext } from "./common.ts";
import { deliveryWorld, freshLatency, ingestBacklog, measureDrain, noopBaseline, startWorkers } from "./drain.ts";

const DRAIN_LIMIT_MS = 15 * 60_000;

export async function scenarioDelivery(ctx: BenchContext): Promise<Row[]> {
  const { sizes } = ctx;
  const world = await deliveryWorld(ctx, "hlbench_s3", { ok: 10, hang: 0, fail: 0, fresh: true });
  try {
    const events = Math.ceil(sizes.backlogDeliveries / 10);
    ctx.log(`  3: ingesting a backlog of ${events} events × 10 subscriptions = ${events * 10} deliveries`);
    const ingestRate = await ingestBacklog(world, events, "s3");
    ctx.log(`  3: draining with 1 worker process`);
    const processes = [{ label: "api", pid: world.service.pid }];
    const { value: drain, profile } = await profiled(ctx, world.db, processes, async () => {
      await startWorkers(ctx, world, 1);
      processes.push({ label: "worker", pid: world.workers[0]?.pid ?? 0 });
      return measureDrain(world, events * 10, DRAIN_LIMIT_MS);
    });
    ctx.log(`  3: fresh-delivery latency, ${sizes.freshEvents} events at ${sizes.freshPerSecond}/s`);
    const fresh = await freshLatency(world, sizes.freshEvents, sizes.freshPerSecond, "s3");
    await Promise.all(world.workers.splice(0).map((worker) => worker.stop()));
    const noopJobs = sizes.noopJobs;
    ctx.log(`  3: baseline: ${noopJobs} no-op graphile-worker jobs`);
    const noop = await noopBaseline(ctx, world.db, noopJobs);
    ctx.extras.scenario3 = { ingestRate: round(ingestRate), drain, fresh, noop, repeats: world.receiver.counts.repeats };
    return [
      {
        id: "3",
        scenario: 3,
        name: `delivery backlog of ${(events * 10).toLocaleString("en-US")}, 1 worker (p50/p99: accept → received)`,
        result: { name: "delivered", value: drain.perSecond, unit: "deliveries/s", p50Ms: drain.latency.p50, p99Ms: drain.latency.p99 },
        baseline: { name: "graphile-worker no-op jobs", value: noop.perSecond, unit: "jobs/s" },
        ratio: drain.perSecond / noop.perSecond,
        note:
          `${drain.delivered} delivered in ${drain.seconds.toFixed(1)} s${drain.done ? "" : " (NOT all delivered within the limit)"}; ` +
          `fresh-delivery latency with an idle worker p50 ${fresh.p50.toFixed(1)} ms, p99 ${fresh.p99.toFixed(1)} ms (${fresh.lost} lost); ` +
          `${(profile.statements / drain.delivered).toFixed(1)} SQL statements and ${(profile.commits / drain.delivered).toFixed(1)} commits per delivery; ` +
          `peak RSS worker ${profile.rssPeakMb.worker ?? "?"} MB, api ${profile.rssPeakMb.api ?? "?"} MB; ${world.receiver.counts.repeats} repeated deliveries`,
        profile,
      },
    ];
  } finally {
    await world.stop();
  }
}

/** One window of scenario 4: a backlog over 20 endpoints, one worker, ok deliveries counted for `window` s. */
async function slowWindow(ctx: BenchContext, dbName: string, hang: number, fail: number) {
  const { sizes } = ctx;
  const world = await deliveryWorld(ctx, dbName, { ok: 20 - hang - fail, hang, fail, fresh: false, timeoutMs: sizes.slowTimeoutMs });
  try {
    await ingestBacklog(world, sizes.slowEvents, dbName);
    const processes = [{ label: "api", pid: world.service.pid }];
    const { value: drain, profile } = await profiled(ctx, world.db, processes, async () => {
      await startWorkers(ctx, world, 1);
      processes.push({ label: "worker", pid: world.workers[0]?.pid ?? 0 });
      return measureDrain(world, sizes.slowEvents * (20 - hang - fail), sizes.slowWindowSeconds * 1000);
    });
    return { drain, profile, counts: { ...world.receiver.counts } };
  } finally {
    await world.stop();
  }
}

export async function scenarioSlowEndpoints(ctx: BenchContext): Promise<Row[]> {
  const { sizes } = ctx;
  ctx.log(`  4: control: 20 healthy endpoints, ${sizes.slowWindowSeconds} s window`);
  const control = await slowWindow(ctx, "hlbench_s4a", 0, 0);
  ctx.log(`  4: 2 hanging (timeout ${sizes.slowTimeoutMs} ms) + 2 failing (500) + 16 healthy endpoints, ${sizes.slowWindowSeconds} s window`);
  const mixed = await slowWindow(ctx, "hlbench_s4b", 2, 2);
  const s3 = rowOf(ctx, 3);
  // With C job slots and a share h of jobs that hold a slot for the timeout T, slots are spent on hangs at a rate
  // of roughly h × T per job, so the whole worker cannot exceed C / (h × T) jobs/s however fast the rest are.
  const bound = 16 / (0.1 * (sizes.slowTimeoutMs / 1000));
  ctx.extras.scenario4 = { control, mixed, headOfLineBoundJobsPerSecond: bound };
  return [
    {
      id: "4",
      scenario: 4,
      name: `10% endpoints hang (${sizes.slowTimeoutMs / 1000} s timeout), 10% answer 500: healthy throughput`,
      result: { name: "healthy delivered", value: mixed.drain.perSecond, unit: "deliveries/s", p50Ms: mixed.drain.latency.p50, p99Ms: mixed.drain.latency.p99 },
      baseline: { name: "same backlog, all 20 endpoints healthy", value: control.drain.perSecond, unit: "deliveries/s" },
      ratio: mixed.drain.perSecond / control.drain.perSecond,
      note:
        `in the window: ${mixed.counts.ok} ok, ${mixed.counts.hang} hung, ${mixed.counts.fail} failed requests; ` +
        `head-of-line bound 16 slots / (10% × ${sizes.slowTimeoutMs / 1000} s) ≈ ${bound.toFixed(0)} jobs/s` +
        (s3 ? `; scenario 3 delivered ${s3.result.value.toFixed(0)}/s (ratio to it ${(mixed.drain.perSecond / s3.result.value).toFixed(3)})` : ""),
      profile: mixed.profile,
    },
  ];
}

export async function scenarioRetryBacklog(ctx: BenchContext): Promise<Row[]> {
  const { sizes } = ctx;
  const world = await deliveryWorld(ctx, "hlbench_s5", { ok: 0, hang: 0, fail: 0, fresh: true });
  try {
    await startWorkers(ctx, world, 1);
    ctx.log(`  5: control: fresh-delivery latency with an empty queue`);
    await freshLatency(world, 20, 20, "s5warm");
    const processes = [{ label: "api", pid: world.service.pid }, { label: "worker", pid: world.workers[0]?.pid ?? 0 }];
    const { value: control, profile: controlProfile } = await profiled(ctx, world.db, processes, () => freshLatency(world, sizes.freshEvents, sizes.freshPerSecond, "s5a"));
    ctx.log(`  5: adding ${sizes.futureRetries.toLocaleString("en-US")} future retries`);
    for (let added = 0; added < sizes.futureRetries; added += 20_000) {
      const size = Math.min(20_000, sizes.futureRetries - added);
      // Shaped like the retries attempt.ts schedules (task, payload, job key, crash retries), 1–10 h ahead.
      await world.db.owner.unsafe(
        `select count(*) from graphile_worker.add_jobs(array(
           select row('deliver', json_build_object('org_id', $1::text, 'delivery_id', id), null,
                      now() + interval '1 hour' + random() * interval '9 hours', 5, 'delivery:' || id, 0, null)::graphile_worker.job_spec
           from (select gen_random_uuid() as id from generate_series(1, ${size})) g))`,
        [world.tenant.orgId],
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    ctx.log(`  5: fresh-delivery latency with the retries queued`);
    const { value: loaded, profile } = await profiled(ctx, world.db, processes, () => freshLatency(world, sizes.freshEvents, sizes.freshPerSecond, "s5b"));
    const s3 = ctx.extras.scenario3 as { fresh?: { p50: number } } | undefined;
    // graphile-worker's job fetch ("with j as (select … from _private_jobs … for update skip locked)") before and after.
    const getJobs = (p: typeof profile) => p.topStatements.find((st) => st.query.startsWith("with j as"));
    const [before, after] = [getJobs(controlProfile), getJobs(profile)];
    const fetchNote = before && after
      ? `; graphile-worker job fetch: ${before.meanMs} ms and ${before.blocksPerCall} buffers per call with an empty queue, ${after.meanMs} ms and ${after.blocksPerCall} with the retries`
      : "";
    ctx.extras.scenario5 = { control, loaded, controlProfile };
    return [
      {
        id: "5",
        scenario: 5,
        name: `fresh delivery with ${sizes.futureRetries.toLocaleString("en-US")} future retries queued (p50 latency)`,
        result: { name: "p50 accept → received", value: loaded.p50, unit: "ms", p50Ms: loaded.p50, p99Ms: loaded.p99 },
        baseline: { name: "same, empty queue", value: control.p50, unit: "ms", p50Ms: control.p50, p99Ms: control.p99 },
        ratio: control.p50 / loaded.p50,
        note: `control p99 ${control.p99.toFixed(1)} ms vs ${loaded.p99.toFixed(1)} ms with retries; lost ${loaded.lost}${fetchNote}` +
          (s3?.fresh ? `; scenario 3's fresh p50 was ${s3.fresh.p50.toFixed(1)} ms (ratio ${(s3.fresh.p50 / loaded.p50).toFixed(3)})` : ""),
        profile,
      },
    ];
  } finally {
    await world.stop();
  }
}

export async function scenarioScaling(ctx: BenchContext): Promise<Row[]> {
  const { sizes } = ctx;
  const rates: { workers: number; perSecond: number; note: string; profile: Row["profile"] }[] = [];
  for (const workers of [1, 2, 4]) {
    const world = await deliveryWorld(ctx, `hlbench_s7_${workers}`, { ok: 10, hang: 0, fail: 0, fresh: false });
    try {
      const events = Math.ceil(sizes.scalingDeliveries / 10);
      await ingestBacklog(world, events, `s7_${workers}`);
      ctx.log(`  7: ${events * 10} deliveries with ${workers} worker process(es)`);
      const processes = [{ label: "api", pid: world.service.pid }];
      const { value: drain, profile } = await profiled(ctx, world.db, processes, async () => {
        await startWorkers(ctx, world, workers);
        world.workers.forEach((w, i) => processes.push({ label: `worker${i}`, pid: w.pid }));
        return measureDrain(world, events * 10, DRAIN_LIMIT_MS);
      });
      rates.push({ workers, perSecond: drain.perSecond, note: `${drain.delivered} in ${drain.seconds.toFixed(1)} s${drain.done ? "" : " (incomplete)"}`, profile });
    } finally {
      await world.stop();
    }
  }
  const one = rates[0]?.perSecond ?? Number.NaN;
  return rates.map((r) => ({
    id: `7 (${r.workers}w)`,
    scenario: 7,
    name: `${r.workers} worker process${r.workers > 1 ? "es" : ""} × concurrency 16`,
    result: { name: "delivered", value: r.perSecond, unit: "deliveries/s" },
    baseline: { name: "1 worker process", value: one, unit: "deliveries/s" },
    ratio: r.perSecond / one,
    note: `${r.note}; ideal ratio ${r.workers} if CPU allowed (${ctx.extras.cpus} cores shared with Postgres and the receiver)`,
    profile: r.profile,
  }));
}
