/**
 * Scenarios 3 (delivery backlog), 4 (slow and failing endpoints) and 7 (worker scaling); 5 is in retries.ts.
 * Every scenario gets its own database, API process and receiver, so no queue state leaks between them.
 */
import type { Row } from "../report.ts";
import { coreMsPer, round } from "../stats.ts";
import { profiled, rowOf, type BenchContext } from "./common.ts";
import { deliveryWorld, freshLatency, holdDeliverJobs, ingestBacklog, measureDrain, noopBaseline, startWorkers, warmUpOnBacklog } from "./drain.ts";

const DRAIN_LIMIT_MS = 15 * 60_000;

export async function scenarioDelivery(ctx: BenchContext): Promise<Row[]> {
  const { sizes } = ctx;
  const world = await deliveryWorld(ctx, "hlbench_s3", { ok: 10, hang: 0, fail: 0, fresh: true });
  try {
    const events = Math.ceil(sizes.backlogDeliveries / 10);
    // Two backlogs of the same shape: the measured one is ingested first and held (its jobs due an hour later);
    // a worker started on the second drains it (the cold start, in the note), then the held one falls due and
    // the same, running worker drains it (the row). Every other row measures processes that have been running
    // (warm-up windows, scenario 7), and the baseline's runner is measured running too (noopBaseline).
    ctx.log(`  3: ingesting two backlogs of ${events} events × 10 subscriptions = ${events * 10} deliveries each, the first held`);
    const ingestRate = await ingestBacklog(world, events, "s3");
    const held = await holdDeliverJobs(world.db);
    await ingestBacklog(world, events, "s3_cold");
    ctx.log(`  3: a worker process started on the second backlog (cold start)`);
    await startWorkers(ctx, world, 1);
    const cold = await measureDrain(world, events * 10, DRAIN_LIMIT_MS);
    world.receiver.reset();
    ctx.log(`  3: the first backlog falls due; the running worker drains it`);
    const processes = [{ label: "api", pid: world.service.pid }, { label: "worker", pid: world.workers[0]?.pid ?? 0 }];
    const { value: drain, profile } = await profiled(ctx, world.db, processes, async () => {
      // Latency from the moment the backlog fell due: its accept times are long past.
      const dueAt = performance.now();
      for (let i = 0; i < events; i++) world.accepted.set(`evt_s3_${i}`, dueAt);
      await held.release();
      return measureDrain(world, events * 10, DRAIN_LIMIT_MS);
    });
    ctx.log(`  3: fresh-delivery latency, ${sizes.freshEvents} events at ${sizes.freshPerSecond}/s`);
    const fresh = await freshLatency(world, sizes.freshEvents, sizes.freshPerSecond, "s3");
    await Promise.all(world.workers.splice(0).map((worker) => worker.stop()));
    const noopJobs = sizes.noopJobs;
    ctx.log(`  3: baseline: ${noopJobs} no-op graphile-worker jobs, drained by a runner that drained as many before`);
    const noop = await noopBaseline(ctx, world.db, noopJobs);
    ctx.extras.scenario3 = { ingestRate: round(ingestRate), drain, cold, fresh, noop, repeats: world.receiver.counts.repeats };
    return [
      {
        id: "3",
        scenario: 3,
        name: `delivery backlog of ${(events * 10).toLocaleString("en-US")} falling due, 1 running worker (p50/p99: due → received)`,
        result: { name: "delivered", value: drain.perSecond, unit: "deliveries/s", p50Ms: drain.latency.p50, p99Ms: drain.latency.p99 },
        baseline: { name: "graphile-worker no-op jobs", value: noop.perSecond, unit: "jobs/s" },
        ratio: drain.perSecond / noop.perSecond,
        note:
          `${drain.delivered} delivered in ${drain.seconds.toFixed(1)} s${drain.done ? "" : " (NOT all delivered within the limit)"}; ` +
          `a worker started on a backlog of the same shape (cold: compiling its code while it drains) delivered ${cold.perSecond.toFixed(0)}/s ` +
          `(ratio ${(cold.perSecond / noop.perSecond).toFixed(3)}${noop.coldPerSecond ? ` to the running baseline; the baseline's runner started on its jobs read ${noop.coldPerSecond.toFixed(0)} jobs/s` : ""})${cold.done ? "" : " (NOT all delivered)"}; ` +
          `fresh-delivery latency with an idle worker p50 ${fresh.p50.toFixed(1)} ms, p99 ${fresh.p99.toFixed(1)} ms (${fresh.lost} lost); ` +
          `${(profile.statements / drain.delivered).toFixed(1)} SQL statements and ${(profile.commits / drain.delivered).toFixed(1)} commits per delivery; ` +
          `peak RSS worker ${profile.rssPeakMb.worker ?? "?"} MB, api ${profile.rssPeakMb.api ?? "?"} MB; ${world.receiver.counts.repeats} repeated deliveries`,
        profile,
        cpuCeiling: true,
      },
    ];
  } finally {
    await world.stop();
  }
}

/**
 * One window of scenario 4: a backlog over 20 endpoints, one worker, ok deliveries counted for `window` s. The
 * backlog is sized to outlast the window (drain.done says when it did not), so the rate is one of a worker that
 * always has healthy work, and the window is long enough for the circuit breaker to open on the bad endpoints.
 */
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
    const [opened] = await world.db.owner<{ n: string }[]>`select count(*) as n from hookledger.ledger where type = 'subscription.circuit_opened'`;
    return { drain, profile, counts: { ...world.receiver.counts }, circuitOpens: Number(opened?.n ?? 0) };
  } finally {
    await world.stop();
  }
}

export async function scenarioSlowEndpoints(ctx: BenchContext): Promise<Row[]> {
  const { sizes } = ctx;
  ctx.log(`  4: control: 20 healthy endpoints, backlog of ${sizes.slowEvents} events × 20, ${sizes.slowWindowSeconds} s window`);
  const control = await slowWindow(ctx, "hlbench_s4a", 0, 0);
  ctx.log(`  4: 2 hanging (timeout ${sizes.slowTimeoutMs} ms) + 2 failing (500) + 16 healthy endpoints, ${sizes.slowWindowSeconds} s window`);
  const mixed = await slowWindow(ctx, "hlbench_s4b", 2, 2);
  const s3 = rowOf(ctx, 3);
  ctx.extras.scenario4 = { control, mixed };
  const windowNote = (label: string, w: typeof mixed) =>
    w.drain.done ? `${label}: the healthy backlog ran out after ${w.drain.seconds.toFixed(1)} s, before the ${sizes.slowWindowSeconds} s window ended (rate over that time)` : "";
  return [
    {
      id: "4",
      scenario: 4,
      name: `10% endpoints hang (${sizes.slowTimeoutMs / 1000} s timeout), 10% answer 500: healthy throughput`,
      result: { name: "healthy delivered", value: mixed.drain.perSecond, unit: "deliveries/s", p50Ms: mixed.drain.latency.p50, p99Ms: mixed.drain.latency.p99 },
      baseline: { name: "same backlog, all 20 endpoints healthy", value: control.drain.perSecond, unit: "deliveries/s" },
      ratio: mixed.drain.perSecond / control.drain.perSecond,
      note:
        [
          `healthy throughput over a ${sizes.slowWindowSeconds} s window from the worker's start, so the circuit breaker (default: opens after ` +
            `5 consecutive failures, 30 s cooldown) has time to open on the 4 bad endpoints and the rate is mostly with it open: it opened ${mixed.circuitOpens} times`,
          `in the window: ${mixed.counts.ok} ok, ${mixed.counts.hang} hung, ${mixed.counts.fail} failed requests`,
          windowNote("mixed", mixed),
          windowNote("control", control),
          s3 ? `scenario 3 delivered ${s3.result.value.toFixed(0)}/s (ratio to it ${(mixed.drain.perSecond / s3.result.value).toFixed(3)})` : "",
        ].filter(Boolean).join("; "),
      profile: mixed.profile,
    },
  ];
}

export async function scenarioScaling(ctx: BenchContext): Promise<Row[]> {
  const { sizes } = ctx;
  const rates: { workers: number; perSecond: number; note: string; profile: Row["profile"] }[] = [];
  for (const workers of [1, 2, 4]) {
    const world = await deliveryWorld(ctx, `hlbench_s7_${workers}`, { ok: 10, hang: 0, fail: 0, fresh: false });
    try {
      const events = Math.ceil(sizes.scalingDeliveries / 10);
      await ingestBacklog(world, events, `s7_${workers}`);
      // Scaling is about processes that have been running: the backlog is held while the workers start and warm
      // up, each on as much work as the measured backlog (a fresh process spends seconds of CPU compiling its hot
      // code, and N fresh processes N times that; warmed on a quarter of one backlog each, four workers still spent
      // ~0.13 cores each in the JIT while measured).
      const backlog = await holdDeliverJobs(world.db);
      ctx.log(`  7: warming up ${workers} worker process(es) on a backlog of ${events * 10 * workers} deliveries`);
      await warmUpOnBacklog(ctx, world, workers, events * workers, 10, `s7_${workers}`);
      ctx.log(`  7: ${events * 10} deliveries (${backlog.held} jobs) with ${workers} worker process(es)`);
      const processes = [{ label: "api", pid: world.service.pid }, ...world.workers.map((w, i) => ({ label: `worker${i}`, pid: w.pid }))];
      const { value: drain, profile } = await profiled(ctx, world.db, processes, async () => {
        await backlog.release();
        return measureDrain(world, events * 10, DRAIN_LIMIT_MS);
      });
      const coreMs = coreMsPer(profile, drain.delivered);
      rates.push({
        workers,
        perSecond: drain.perSecond,
        note: `${drain.delivered} in ${drain.seconds.toFixed(1)} s${drain.done ? "" : " (incomplete)"}; ` +
          `${coreMs.toFixed(2)} core-ms per delivery (API + workers + Postgres; each worker warmed up on as many deliveries before this backlog fell due)`,
        profile,
      });
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
