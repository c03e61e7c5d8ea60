/**
 * Building blocks of the delivery scenarios (3, 4, 5, 7): a tenant whose subscriptions point at the receiver,
 * a backlog ingested through the API while no worker runs, worker processes, a drain measured at the receiver,
 * fresh-delivery latency under light load, and the raw graphile-worker baseline.
 */
import pg from "pg";
import { makeWorkerUtils } from "graphile-worker";
import { benchServiceEnv, spawnService, type BenchDatabase, type ServiceProcess } from "../env.ts";
import { closedLoop, eventBody, openLoop, postEvent, subscribe } from "../load.ts";
import { startReceiver, type Receiver } from "../receiver.ts";
import { sleep, summarize, type LatencySummary } from "../stats.ts";
import { bootApi, profileOptions, type BenchContext, type Booted } from "./common.ts";

/** The no-op task the `noop-worker` role of service.ts runs (kept in step with service.ts). */
export const NOOP_TASK = "bench_noop";

export interface DeliveryWorld extends Booted {
  receiver: Receiver;
  /** event id → performance.now() when POST /v1/events answered 202. */
  accepted: Map<string, number>;
  workers: ServiceProcess[];
  stop(): Promise<void>;
}

export interface Endpoints {
  ok: number;
  hang: number;
  fail: number;
  /** A separate subscription on `bench.fresh`, for the fresh-latency probe. */
  fresh: boolean;
  timeoutMs?: number;
}

export async function deliveryWorld(ctx: BenchContext, dbName: string, endpoints: Endpoints): Promise<DeliveryWorld> {
  const booted = await bootApi(ctx, dbName, ["bench.ping", "bench.fresh"]);
  const receiver = startReceiver();
  const workers: ServiceProcess[] = [];
  const timeout = endpoints.timeoutMs ? { timeout_ms: endpoints.timeoutMs } : {};
  try {
    for (const [kind, count] of [["ok", endpoints.ok], ["hang", endpoints.hang], ["fail", endpoints.fail]] as const) {
      for (let i = 0; i < count; i++) await subscribe(booted.client, booted.tenant, { url: receiver.url(`/${kind}/${i}`), event_types: ["bench.ping"], ...timeout });
    }
    if (endpoints.fresh) await subscribe(booted.client, booted.tenant, { url: receiver.url("/ok/fresh"), event_types: ["bench.fresh"] });
  } catch (error) {
    await booted.service.stop();
    await receiver.close();
    throw error;
  }
  return {
    ...booted,
    receiver,
    accepted: new Map(),
    workers,
    async stop() {
      await Promise.all(workers.map((worker) => worker.stop()));
      await booted.service.stop();
      await receiver.close();
    },
  };
}

/** Ingests `events` events of `bench.ping` from 16 clients; returns the accept rate. */
export async function ingestBacklog(world: DeliveryWorld, events: number, tag: string): Promise<number> {
  const result = await closedLoop({
    concurrency: 16,
    durationMs: 15 * 60_000,
    maxRequests: events,
    send: async (i) => {
      const eventId = `evt_${tag}_${i}`;
      await postEvent(world.service.baseUrl, world.tenant, eventBody(world.tenant, "bench.ping", eventId));
      world.accepted.set(eventId, performance.now());
      return true;
    },
  });
  if (result.failed > 0) throw new Error(`backlog ingest: ${result.failed} failed: ${result.errors.join("; ")}`);
  return result.perSecond;
}

/**
 * Holds the queued deliver jobs (due an hour later), so workers can start and warm up before a backlog becomes
 * due; `release` makes them due at once and wakes the workers. The jobs and the work are unchanged: only when they
 * become due is moved, as for retries that fall due together.
 */
export async function holdDeliverJobs(db: BenchDatabase): Promise<{ held: number; release: () => Promise<void> }> {
  const held = await db.owner`
    update graphile_worker._private_jobs j set run_at = now() + interval '1 hour'
    from graphile_worker._private_tasks t where t.id = j.task_id and t.identifier = 'deliver' and j.locked_at is null`;
  return {
    held: held.count,
    async release() {
      await db.owner`
        update graphile_worker._private_jobs j set run_at = now()
        from graphile_worker._private_tasks t where t.id = j.task_id and t.identifier = 'deliver' and j.run_at > now() + interval '30 minutes'`;
      await db.owner`select pg_notify('jobs:insert', ${JSON.stringify({ count: held.count, r: Math.random() })})`;
    },
  };
}

/**
 * Warms workers up (JIT, pools, caches) on the work they are about to be measured on: a backlog of `events` events
 * (fan-out `fanOut`) ingested now and drained by workers started after it, then waits until every delivery arrived
 * and forgets those arrivals, so a measurement afterwards counts its own deliveries only. Measured with a thread
 * sampler: right after 8 s of live events at 4 clients, a worker still spent a third of its CPU in JavaScriptCore's
 * JIT threads while draining the measured backlog (0.29 of 0.75 cores with one worker, 0.21-0.22 each with two):
 * the higher load made it compile its hot code again, and N processes compile it N times.
 */
export async function warmUpOnBacklog(ctx: BenchContext, world: DeliveryWorld, workers: number, events: number, fanOut: number, tag: string): Promise<void> {
  await ingestBacklog(world, events, `${tag}_warm`);
  await startWorkers(ctx, world, workers);
  await world.receiver.waitFor(events * fanOut, 120_000, "ok");
  world.receiver.reset();
}

/** Starts `count` worker processes at once (hookledger defaults: concurrency 16, localQueue, batched completion). */
export async function startWorkers(ctx: BenchContext, world: DeliveryWorld, count: number, env: Record<string, string> = {}): Promise<void> {
  const started = await Promise.all(
    Array.from({ length: count }, (_, i) => spawnService(ctx.cluster, "worker", benchServiceEnv(ctx.cluster, world.db, env), profileOptions(ctx, `${world.db.name}-worker${i}`))),
  );
  world.workers.push(...started);
}

export interface Drain {
  delivered: number;
  seconds: number;
  perSecond: number;
  /** accept → first arrival, over the deliveries counted. */
  latency: LatencySummary;
  done: boolean;
}

/**
 * Waits until `expected` ok deliveries arrived or `windowMs` passed, then measures ok deliveries per second from
 * the first arrival to the last one (done) or to the end of the window (not done).
 */
export async function measureDrain(world: DeliveryWorld, expected: number, windowMs: number): Promise<Drain> {
  const started = performance.now();
  let done = true;
  try {
    await world.receiver.waitFor(expected, windowMs, "ok");
  } catch {
    done = false;
  }
  const end = performance.now();
  const ok = [...world.receiver.arrivals.values()].filter((a) => a.kind === "ok" && a.at <= end);
  const first = ok.reduce((min, a) => Math.min(min, a.at), Number.POSITIVE_INFINITY);
  const last = done ? ok.reduce((max, a) => Math.max(max, a.at), 0) : Math.min(end, started + windowMs);
  const seconds = Math.max(0.001, (last - first) / 1000);
  const latencies = ok.flatMap((a) => {
    const accepted = world.accepted.get(a.eventId);
    return accepted === undefined ? [] : [Math.max(0, a.at - accepted)];
  });
  return { delivered: ok.length, seconds, perSecond: ok.length / seconds, latency: summarize(latencies), done };
}

/**
 * Fresh-delivery latency with an idle worker: `count` events of `bench.fresh` at a fixed rate (open loop), each
 * measured from its 202 to its arrival at the receiver.
 */
export async function freshLatency(world: DeliveryWorld, count: number, perSecond: number, tag: string): Promise<LatencySummary & { lost: number }> {
  const ids: string[] = [];
  await openLoop({
    count,
    perSecond,
    send: async (i) => {
      const eventId = `evt_fresh_${tag}_${i}`;
      ids.push(eventId);
      await postEvent(world.service.baseUrl, world.tenant, eventBody(world.tenant, "bench.fresh", eventId));
      world.accepted.set(eventId, performance.now());
    },
  });
  const wanted = new Set(ids);
  const deadline = performance.now() + 30_000;
  let arrived: number[] = [];
  for (;;) {
    arrived = [...world.receiver.arrivals.values()].filter((a) => wanted.has(a.eventId)).map((a) => Math.max(0, a.at - (world.accepted.get(a.eventId) ?? a.at)));
    if (arrived.length >= count || performance.now() > deadline) break;
    await sleep(50);
  }
  return { ...summarize(arrived), lost: count - arrived.length };
}

/**
 * The raw graphile-worker baseline: the same runner hookledger uses (src/worker/runner.ts: same pool size,
 * concurrency, localQueue and batching) with a task that does nothing, in its own process. It drains `jobs` no-op
 * jobs once started on them (the cold figure), and then `jobs` more that were held until then (the measured one:
 * scenario 3's worker is measured running too). Jobs are added with addJobs in batches of 1000; each drain is timed
 * by polling the queue every 100 ms from the first completed job to an empty queue.
 */
export async function noopBaseline(ctx: BenchContext, db: BenchDatabase, jobs: number): Promise<{ perSecond: number; seconds: number; coldPerSecond: number }> {
  const pool = new pg.Pool({ connectionString: db.ownerUrl, max: 2 });
  pool.on("error", () => undefined);
  pool.on("connect", (client) => client.on("error", () => undefined));
  const utils = await makeWorkerUtils({ pgPool: pool });
  const later = new Date(Date.now() + 60 * 60_000);
  try {
    for (const runAt of [later, undefined]) {
      for (let done = 0; done < jobs; done += 1000) {
        const size = Math.min(1000, jobs - done);
        await utils.addJobs(Array.from({ length: size }, (_, i) => ({ identifier: NOOP_TASK, payload: { n: done + i }, maxAttempts: 5, ...(runAt ? { runAt } : {}) })));
      }
    }
  } finally {
    await utils.release();
    await pool.end();
  }
  // The jobs table went from empty to its rows a moment ago: without statistics the runner's fetch can be
  // planned as if it were still empty (a baseline run read 480 jobs/s beside others at 2.8k–18k). Autovacuum would
  // analyse it within a minute; the baseline should not depend on whether it already has.
  await db.owner`analyze graphile_worker._private_jobs`;
  const due = async () =>
    Number((await db.owner`select count(*) as n from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
      where t.identifier = ${NOOP_TASK} and j.run_at <= now()`)[0]?.n ?? 0);
  const drained = async (total: number) => {
    let firstAt: number | undefined;
    let firstLeft = total;
    const deadline = performance.now() + 5 * 60_000;
    for (;;) {
      const left = await due();
      const now = performance.now();
      if (firstAt === undefined && left < total) {
        firstAt = now;
        firstLeft = left;
      }
      if (left === 0 || now > deadline) {
        const seconds = (now - (firstAt ?? now)) / 1000;
        return { perSecond: seconds > 0 ? (firstLeft - left) / seconds : Number.NaN, seconds };
      }
      await sleep(100);
    }
  };
  const worker = await spawnService(ctx.cluster, "noop-worker", benchServiceEnv(ctx.cluster, db), profileOptions(ctx, `${db.name}-noop`));
  try {
    const cold = await drained(jobs);
    await db.owner`
      update graphile_worker._private_jobs j set run_at = now()
      from graphile_worker._private_tasks t where t.id = j.task_id and t.identifier = ${NOOP_TASK} and j.run_at > now()`;
    await db.owner`select pg_notify('jobs:insert', ${JSON.stringify({ count: jobs, r: Math.random() })})`;
    const running = await drained(jobs);
    return { ...running, coldPerSecond: cold.perSecond };
  } finally {
    await worker.stop();
  }
}
