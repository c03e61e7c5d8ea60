/**
 * How fast the machine is right now, on fixed single-core work: one Postgres backend summing a series, and this
 * process running an integer loop. Each is timed three times and the fastest kept (the others are what a neighbour
 * took). The loop reads the CPU alone; the Postgres probe also reads what the server is busy with at that moment
 * (right after the previous scenario's databases were dropped it read up to 1.8× its usual time).
 *
 * Why: the box is shared, and its speed moves between runs and within one by more than most changes to the code
 * (on 2026-12-06 ingest read 0.56 core-ms per event at 02:34 UTC and 0.90 at 04:38 on code that spends less,
 * by callgrind's count, while pgbench read 11,371 and 6,966 commits/s). Every ratio is within its run, but CPU per unit is compared across runs; the probe taken
 * before each scenario says whether a difference between two runs is the machine's.
 */
import { connect } from "../../src/db/connect.ts";

export interface SpeedProbe {
  /** `select sum(i) from generate_series(1, 2000000) i` in one backend, fastest of three. */
  postgresMs: number;
  /** 20 million steps of an xorshift loop in the bench process, fastest of three. */
  jsMs: number;
}

const SERIES = 2_000_000;
const STEPS = 20_000_000;

function xorshiftSteps(seed: number): number {
  let x = seed | 1;
  for (let i = 0; i < STEPS; i += 1) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x;
}

async function fastest(times: number, run: () => Promise<unknown> | unknown): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < times; i += 1) {
    const t0 = performance.now();
    await run();
    best = Math.min(best, performance.now() - t0);
  }
  return Math.round(best * 10) / 10;
}

export async function probeSpeed(url: string): Promise<SpeedProbe> {
  const sql = connect(url, { max: 1, applicationName: "hlbench-speed" });
  try {
    await sql`select 1`;
    const postgresMs = await fastest(3, () => sql`select sum(i) from generate_series(1, ${SERIES}::int) i`);
    let sink = 0;
    const jsMs = await fastest(3, () => (sink ^= xorshiftSteps(sink + 7)));
    return { postgresMs, jsMs };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** One line for the report: each scenario's probe, in run order. */
export function describeProbes(probes: Record<string, SpeedProbe>): string {
  const parts = Object.entries(probes).map(([id, p]) => `${id}: Postgres ${p.postgresMs} ms, JS ${p.jsMs} ms`);
  return parts.length === 0
    ? ""
    : `Machine speed before each scenario (fixed single-core work, fastest of three; lower is faster, compare across runs): ${parts.join("; ")}.`;
}
