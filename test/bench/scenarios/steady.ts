/**
 * Scenario 10: steady state — ingest and delivery at once, as in production. 16 closed-loop clients post events
 * matching one subscription whose receiver answers 200 at once, while one worker process delivers them. After a
 * warm-up, deliveries per second are counted at the receiver over a fixed window; then the load stops and the
 * run waits (bounded) until every accepted event has arrived, so a rate bought by leaving work behind shows.
 *
 * One endpoint means the per-endpoint limit applies: at most HOOKLEDGER_ENDPOINT_CONCURRENCY (default 10)
 * requests in flight per worker process.
 *
 * Baseline: the commit baseline (pgbench single-row INSERT commits, 16 connections, same database), measured
 * after the worker stopped.
 */
import { commitBaseline, commitMeasure } from "../commitBaseline.ts";
import { closedLoop, eventBody, postEvent } from "../load.ts";
import type { Row } from "../report.ts";
import { coreMsPer, sleep, summarize } from "../stats.ts";
import { profiled, type BenchContext } from "./common.ts";
import { deliveryWorld, startWorkers } from "./drain.ts";

const CLIENTS = 16;

export async function scenarioSteady(ctx: BenchContext): Promise<Row[]> {
  const { sizes } = ctx;
  const world = await deliveryWorld(ctx, "hlbench_s10", { ok: 1, hang: 0, fail: 0, fresh: false });
  try {
    await startWorkers(ctx, world, 1);
    const send = async (i: number) => {
      const eventId = `evt_s10_${i}`;
      await postEvent(world.service.baseUrl, world.tenant, eventBody(world.tenant, "bench.ping", eventId));
      world.accepted.set(eventId, performance.now());
      return true;
    };
    ctx.log(`  10: ${CLIENTS} clients posting with the worker running: ${sizes.steadyWarmupSeconds} s warm-up, ${sizes.steadySeconds} s window`);
    // One second past the window, so the profiler's own start and stop never fall outside the load.
    const load = closedLoop({ concurrency: CLIENTS, durationMs: (sizes.steadyWarmupSeconds + sizes.steadySeconds + 1) * 1000, send });
    await sleep(sizes.steadyWarmupSeconds * 1000);
    const processes = [{ label: "api", pid: world.service.pid }, { label: "worker", pid: world.workers[0]?.pid ?? 0 }];
    const { value: window, profile } = await profiled(ctx, world.db, processes, async () => {
      const from = performance.now();
      await sleep(sizes.steadySeconds * 1000);
      return { from, to: performance.now() };
    });
    const loaded = await load;
    const seconds = (window.to - window.from) / 1000;
    const inWindow = [...world.receiver.arrivals.values()].filter((a) => a.kind === "ok" && a.at >= window.from && a.at < window.to);
    const delivered = inWindow.length;
    const latency = summarize(inWindow.flatMap((a) => {
      const accepted = world.accepted.get(a.eventId);
      return accepted === undefined ? [] : [Math.max(0, a.at - accepted)];
    }));
    const acceptedInWindow = [...world.accepted.values()].filter((at) => at >= window.from && at < window.to).length;

    ctx.log(`  10: load stopped; waiting for all ${world.accepted.size} accepted events to arrive`);
    const drainStarted = performance.now();
    const drained = await world.receiver.waitFor(world.accepted.size, sizes.steadyDrainSeconds * 1000, "ok").then(() => true, () => false);
    const drainSeconds = (performance.now() - drainStarted) / 1000;
    const arrived = world.receiver.countBetween("ok", 0, Number.POSITIVE_INFINITY);
    await Promise.all(world.workers.splice(0).map((worker) => worker.stop()));

    const baseline = await commitBaseline(world.db.ownerUrl, CLIENTS, sizes.ingestSeconds);
    const perSecond = delivered / seconds;
    return [
      {
        id: "10",
        scenario: 10,
        name: `steady state: ${CLIENTS} clients posting, 1 subscription, 1 worker (p50/p99: 202 → received)`,
        result: { name: "delivered", value: perSecond, unit: "deliveries/s", p50Ms: latency.p50, p99Ms: latency.p99 },
        baseline: commitMeasure(baseline, CLIENTS),
        ratio: perSecond / baseline.perSecond,
        note:
          `target ≥ 0.1 (aim 0.2); window ${seconds.toFixed(1)} s after ${sizes.steadyWarmupSeconds} s warm-up: ` +
          `${(acceptedInWindow / seconds).toFixed(0)} events/s accepted, ${perSecond.toFixed(0)} deliveries/s received; ` +
          (drained
            ? `all ${world.accepted.size} accepted events delivered, the last ${drainSeconds.toFixed(1)} s after the load stopped; `
            : `NOT all delivered: ${arrived} of ${world.accepted.size} arrived within ${sizes.steadyDrainSeconds} s after the load stopped; `) +
          `${coreMsPer(profile, delivered).toFixed(2)} core-ms per delivered event (API + worker + Postgres, ingest included); ` +
          `${world.receiver.counts.repeats} repeated deliveries` +
          (loaded.failed ? `; ${loaded.failed} requests failed: ${loaded.errors.join("; ")}` : ""),
        profile,
        cpuCeiling: true,
      },
    ];
  } finally {
    await world.stop();
  }
}
