/** The inbound audit views show refusals and queue depth, one tenant at a time for the service role. */
import { sign } from "@octokit/webhooks-methods";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withTenant } from "../../src/db/tenant.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { inboundTenant, postWebhook } from "../inbound/setup.ts";

let db: TestDatabase;
let app: TestApp;
let a: Awaited<ReturnType<typeof inboundTenant>>;
let b: Awaited<ReturnType<typeof inboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  a = await inboundTenant(app, "Tenant A");
  b = await inboundTenant(app, "Tenant B");
  for (const t of [a, b]) {
    await t.createQueue("github");
    const route = await t.createRoute({ name: "gh", auth: { type: "hmac", preset: "github" }, queue: "github", secrets: [{ id: "s1", value: "it's-a-secret-0123456789" }] });
    const body = JSON.stringify({ zen: "Design for failure." });
    expect((await postWebhook(app, route.id, body, { "X-Hub-Signature-256": await sign("it's-a-secret-0123456789", body) })).status).toBe(202);
    expect((await postWebhook(app, route.id, body, { "X-Hub-Signature-256": "sha256=" + "0".repeat(64) })).status).toBe(401);
  }
});
afterAll(async () => {
  await app?.stop();
  await db.drop();
});

describe("inbound audit views", () => {
  it("count refused requests per route and reason, and show queue depth, for the tenant only", async () => {
    const rejections = await withTenant(db.service, a.orgId, (tx) => tx`select org_id, route_name, reason, count from hookledger_audit.ingress_rejections`);
    expect(rejections).toEqual([{ org_id: a.orgId, route_name: "gh", reason: "signature_mismatch", count: "1" }]);
    const depth = await withTenant(db.service, a.orgId, (tx) => tx`select org_id, queue, ready, dead, oldest_age_seconds from hookledger_audit.pull_queue_depth`);
    expect(depth).toEqual([{ org_id: a.orgId, queue: "github", ready: "1", dead: "0", oldest_age_seconds: expect.any(Number) }]);
    expect(await db.service`select * from hookledger_audit.ingress_rejections`).toEqual([]);
    const [both] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger_audit.pull_queue_depth where org_id in (${a.orgId}, ${b.orgId})`;
    expect(both?.n).toBe(2);
  });

  it("count verifications by result in /metrics", async () => {
    const metrics = await (await app.fetch("/metrics")).text();
    expect(metrics).toContain('hookledger_ingress_verifications_total{result="accepted"} 2');
    expect(metrics).toContain('hookledger_ingress_verifications_total{result="signature_mismatch"} 2');
  });
});
