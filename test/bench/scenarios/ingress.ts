/**
 * Scenario 9: ingress receive. 16 closed-loop clients POST GitHub-signed webhooks to `/in/{route_id}` of a route
 * that queues to a pull queue; no worker runs (a queued receipt needs none). Each request is a distinct GitHub
 * delivery: its own body, its own `X-GitHub-Delivery` (the nonce the replay guard remembers) and its signature.
 *
 * Baseline: the commit baseline (pgbench single-row INSERT commits, 16 connections, same database): a receipt
 * is accepted only after the commit that holds it, so commits per second bound receipts per second unless
 * receipts share commits.
 */
import { createHmac, randomUUID } from "node:crypto";
import { commitBaseline, commitMeasure } from "../commitBaseline.ts";
import { closedLoop } from "../load.ts";
import type { Row } from "../report.ts";
import { coreMsPer } from "../stats.ts";
import { bootApi, profiled, type BenchContext } from "./common.ts";

const CLIENTS = 16;
const QUEUE = "github";

/** A push-like payload of ~600 bytes: GitHub's real ones are larger, but size is not what this row is about. */
function pushBody(n: number): string {
  return JSON.stringify({
    ref: "refs/heads/main",
    before: "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
    after: createHmac("sha1", "n").update(String(n)).digest("hex"),
    repository: { id: 1296269, full_name: "octocat/Hello-World", private: false, default_branch: "main" },
    pusher: { name: "octocat", email: "octocat@github.com" },
    sender: { login: "octocat", id: 1, type: "User" },
    head_commit: { id: String(n), message: `bench push ${n}`, timestamp: new Date().toISOString(), author: { name: "Monalisa Octocat" } },
  });
}

/** `X-Hub-Signature-256` the way GitHub documents it (test/inbound/signers.ts checks the same with @octokit's signer). */
const githubSignature = (secret: string, body: string) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

export async function scenarioIngress(ctx: BenchContext): Promise<Row[]> {
  const { sizes } = ctx;
  const booted = await bootApi(ctx, "hlbench_s9", []);
  const { db, service, tenant, client } = booted;
  try {
    const secret = `bench-${randomUUID()}`;
    const queue = await client.call("POST", "/v1/pull-queues", tenant.token, { name: QUEUE });
    if (queue.status !== 201) throw new Error(`pull queue: ${queue.status} ${JSON.stringify(queue.body)}`);
    const route = await client.call("POST", "/v1/ingress-routes", tenant.token, {
      name: "GitHub bench",
      auth: { type: "hmac", preset: "github" },
      queue: QUEUE,
      secrets: [{ id: "gh-bench", value: secret }],
    });
    if (route.status !== 201) throw new Error(`ingress route: ${route.status} ${JSON.stringify(route.body)}`);
    const url = `${service.baseUrl}/in/${route.body.id as string}`;
    let seq = 0;
    const send = async () => {
      const body = pushBody(seq++);
      const response = await fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "GitHub-Hookshot/bench",
          "x-github-event": "push",
          "x-github-delivery": randomUUID(),
          "x-hub-signature-256": githubSignature(secret, body),
        },
        body,
      });
      await response.arrayBuffer();
      if (response.status !== 202) throw new Error(`POST /in answered ${response.status}`);
      return true;
    };
    const warmUp = await closedLoop({ concurrency: CLIENTS, durationMs: sizes.warmUpSeconds * 1000, send }); // JIT, pools, route cache
    ctx.log(`  9: ingress receive with ${CLIENTS} concurrent clients`);
    const { value: result, profile } = await profiled(ctx, db, [{ label: "api", pid: service.pid }], () =>
      closedLoop({ concurrency: CLIENTS, durationMs: sizes.ingestSeconds * 1000, send }),
    );
    const baseline = await commitBaseline(db.ownerUrl, CLIENTS, sizes.ingestSeconds);
    const [queued] = await db.owner<{ n: string }[]>`select count(*) as n from hookledger.pull_messages`;
    return [
      {
        id: "9",
        scenario: 9,
        name: `ingress receive POST /in (GitHub-signed, to a pull queue), ${CLIENTS} clients`,
        result: { name: "accepted", value: result.perSecond, unit: "receipts/s", p50Ms: result.latency.p50, p99Ms: result.latency.p99 },
        baseline: commitMeasure(baseline, CLIENTS),
        ratio: result.perSecond / baseline.perSecond,
        note:
          `target ≥ 0.3; ${(profile.statements / result.ok).toFixed(1)} SQL statements and ${(profile.commits / result.ok).toFixed(2)} commits per receipt; ` +
          `${coreMsPer(profile, result.ok).toFixed(2)} core-ms per receipt (API + Postgres); ` +
          `${Number(queued?.n ?? 0)} messages on the pull queue for ${warmUp.ok + result.ok} accepted receipts (warm-up included)` +
          (result.failed ? `; ${result.failed} requests failed: ${result.errors.join("; ")}` : ""),
        profile,
        cpuCeiling: true,
      },
    ];
  } finally {
    await service.stop();
  }
}
