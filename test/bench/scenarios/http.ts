/**
 * Scenario 8: GET /health on the real service (its whole middleware stack: request id, security headers, client
 * address) vs a bare Hono app with the same route, both served by src/http/serve on Bun in their own process.
 * Alternated twice, best of each kept, so a burst of someone else's work on the box hurts both alike.
 */
import { benchServiceEnv, spawnService } from "../env.ts";
import { closedLoop, type LoadResult } from "../load.ts";
import type { Row } from "../report.ts";
import { bootApi, profiled, type BenchContext } from "./common.ts";

const CONCURRENCY = 32;

export async function scenarioHttp(ctx: BenchContext): Promise<Row[]> {
  const { sizes } = ctx;
  const booted = await bootApi(ctx, "hlbench_s8", []);
  const bare = await spawnService(ctx.cluster, "bare-hono", benchServiceEnv(ctx.cluster, booted.db));
  const load = async (baseUrl: string): Promise<LoadResult> => {
    const url = `${baseUrl}/health`;
    const send = async () => {
      const response = await fetch(url);
      await response.arrayBuffer();
      return response.status === 200;
    };
    await closedLoop({ concurrency: CONCURRENCY, durationMs: 1000, send });
    return closedLoop({ concurrency: CONCURRENCY, durationMs: sizes.httpSeconds * 1000, send });
  };
  try {
    const best = { service: undefined as LoadResult | undefined, bare: undefined as LoadResult | undefined };
    let profile: Row["profile"];
    for (let round = 0; round < 2; round++) {
      ctx.log(`  8: round ${round + 1}: bare Hono, then hookledger`);
      const b = await load(bare.baseUrl);
      const measured = await profiled(ctx, booted.db, [{ label: "api", pid: booted.service.pid }], () => load(booted.service.baseUrl));
      if (!best.bare || b.perSecond > best.bare.perSecond) best.bare = b;
      if (!best.service || measured.value.perSecond > best.service.perSecond) {
        best.service = measured.value;
        profile = measured.profile;
      }
    }
    const service = best.service as LoadResult;
    const baseline = best.bare as LoadResult;
    return [
      {
        id: "8",
        scenario: 8,
        name: `GET /health, ${CONCURRENCY} keep-alive clients`,
        result: { name: "hookledger", value: service.perSecond, unit: "req/s", p50Ms: service.latency.p50, p99Ms: service.latency.p99 },
        baseline: { name: "bare Hono on Bun", value: baseline.perSecond, unit: "req/s", p50Ms: baseline.latency.p50, p99Ms: baseline.latency.p99 },
        ratio: service.perSecond / baseline.perSecond,
        note: `the load generator is one Bun process on the same 2 cores; failures: ${service.failed}/${baseline.failed}`,
        profile,
      },
    ];
  } finally {
    await bare.stop();
    await booted.service.stop();
  }
}
