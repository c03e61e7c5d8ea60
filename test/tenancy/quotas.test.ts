import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { outboundTenant } from "../outbound/setup.ts";

let db: TestDatabase;
let app: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { env: { HOOKLEDGER_QUOTA_EVENTS_PER_DAY: "3", HOOKLEDGER_QUOTA_SUBSCRIPTIONS_PER_APPLICATION: "2" } });
});
afterAll(async () => {
  await app?.stop();
  await db.drop();
});

describe("quotas", () => {
  it("answers 429 with Retry-After once the daily event quota is used, accepting nothing more", async () => {
    const t = await outboundTenant(app);
    for (let i = 0; i < 3; i++) expect((await t.send({ event_id: `q_${i}` })).status).toBe(202);
    // Repeating an accepted event is not a new event and does not count.
    expect((await t.send({ event_id: "q_0" })).status).toBe(202);
    const refused = await t.send({ event_id: "q_3" });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ type: "urn:hookledger:problem:rate-limited", quota: "events_per_day", limit: 3 });
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    expect((await app.call("GET", "/v1/events/q_3", t.token)).status).toBe(404);
    const usage = await app.call("GET", "/v1/usage", t.token);
    expect(usage.body).toMatchObject({ quotas: { events_per_day: 3 }, usage: { events_today: 3, applications: 1 } });
  });

  it("accepts no more than the daily event quota from batches decided at the same time by two API processes", async () => {
    // A second process on the same database: its flushes run beside the first one's, as on another machine.
    const other = await startTestApp(db);
    try {
      const t = await outboundTenant(app);
      await app.call("PATCH", `/v1/organizations/${t.orgId}`, TEST_ADMIN_TOKEN, { quotas: { events_per_day: 45 } });
      for (let i = 0; i < 25; i++) expect((await t.send({ event_id: `used_${i}` })).status).toBe(202);
      for (let round = 0; round < 2; round++) {
        const answers = await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            (i % 2 === 0 ? app : other).call("POST", "/v1/events", t.token, { app_id: t.appId, event_type: "invoice.paid", event_id: `edge_${round}_${i}`, payload: { i } }),
          ),
        );
        const statuses = answers.map((answer) => answer.status);
        expect(statuses.every((status) => status === 202 || status === 429), statuses.join()).toBe(true);
        expect(statuses.filter((status) => status === 202)).toHaveLength(round === 0 ? 20 : 0);
      }
      expect((await app.call("GET", "/v1/usage", t.token)).body.usage.events_today).toBe(45);
      const [row] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.events where org_id = ${t.orgId}`;
      expect(row?.n).toBe(45);
    } finally {
      await other.stop();
    }
  });

  it("answers 403 quota-exceeded naming a count quota", async () => {
    const t = await outboundTenant(app);
    await t.subscribe({ url: "http://127.0.0.1:9/a" });
    await t.subscribe({ url: "http://127.0.0.1:9/b" });
    const third = await app.call("POST", "/v1/subscriptions", t.token, { app_id: t.appId, url: "http://127.0.0.1:9/c", event_types: ["*"] });
    expect(third.status).toBe(403);
    expect(third.body).toMatchObject({ type: "urn:hookledger:problem:quota-exceeded", quota: "subscriptions_per_application", limit: 2 });
  });

  it("lets the instance admin override one organization's quotas", async () => {
    const t = await outboundTenant(app);
    expect((await app.call("PATCH", `/v1/organizations/${t.orgId}`, t.token, { quotas: { applications: 1 } })).status).toBe(403);
    const set = await app.call("PATCH", `/v1/organizations/${t.orgId}`, TEST_ADMIN_TOKEN, { quotas: { applications: 1, events_per_day: 1000 } });
    expect(set.body.quotas).toEqual({ applications: 1, events_per_day: 1000 });
    const second = await app.call("POST", "/v1/applications", t.token, { name: "second" });
    expect(second.status).toBe(403);
    expect(second.body).toMatchObject({ quota: "applications", limit: 1 });
    for (let i = 0; i < 5; i++) expect((await t.send({})).status).toBe(202);
    const noRoutes = await app.call("PATCH", `/v1/organizations/${t.orgId}`, TEST_ADMIN_TOKEN, { quotas: { ingress_routes: 0 } });
    expect(noRoutes.body.quotas).toEqual({ ingress_routes: 0 });
    const route = await app.call("POST", "/v1/ingress-routes", t.token, { name: "gh", auth: { type: "hmac", preset: "github" }, secrets: [{ id: "s1", value: "x".repeat(32) }] });
    expect(route.status).toBe(403);
    expect(route.body).toMatchObject({ type: "urn:hookledger:problem:quota-exceeded", quota: "ingress_routes", limit: 0 });
    expect((await app.call("GET", "/v1/usage", t.token)).body.usage.ingress_routes).toBe(0);
    const bad = await app.call("PATCH", `/v1/organizations/${t.orgId}`, TEST_ADMIN_TOKEN, { quotas: { applications: -1, unknown: 5 } });
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(["quotas.applications", "quotas.unknown"]);
  });
});
