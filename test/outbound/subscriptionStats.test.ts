/**
 * `GET /v1/subscriptions/{id}/stats` (Svix's endpoint stats): a subscription's deliveries created in [since, until)
 * counted by status, the last 28 days when not told; a window that is empty or wider than 366 days is a 400 naming
 * the field, and another organization's or application's subscription is 404.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, eventually, startTestApp, type TestApp } from "../support/app.ts";
import { consoleSession } from "../support/consoleSession.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let t: Awaited<ReturnType<typeof outboundTenant>>;
let healthy: string;
let broken: string;
let started: Date;

const stats = (id: string, query = "", token = t.token) => app.call("GET", `/v1/subscriptions/${id}/stats${query}`, token);

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true });
  receiver = await startReceiver();
  receiver.respond("/broken", { status: 500, body: "no" });
  t = await outboundTenant(app);
  started = new Date();
  healthy = (await t.subscribe({ url: receiver.url("/ok"), event_types: ["invoice.paid"] })).id;
  broken = (await t.subscribe({ url: receiver.url("/broken"), event_types: ["invoice.voided"], max_attempts: 1 })).id;
  for (let n = 0; n < 3; n++) expect((await t.send({ event_id: `evt_paid_${n}` })).status).toBe(202);
  for (let n = 0; n < 2; n++) expect((await t.send({ event_id: `evt_voided_${n}`, event_type: "invoice.voided" })).status).toBe(202);
});

afterAll(async () => {
  await receiver?.close();
  await app?.stop();
  await db?.drop();
});

describe("subscription stats", () => {
  it("count the deliveries of the last 28 days by status", async () => {
    const counted = await eventually(async () => {
      const [ok, failed] = await Promise.all([stats(healthy), stats(broken)]);
      return ok.body.deliveries?.succeeded === 3 && failed.body.deliveries?.failed === 2 ? ([ok, failed] as const) : undefined;
    }, 15_000, "three successes and two failures");
    const [ok, failed] = counted;
    expect(ok.status).toBe(200);
    expect(ok.body.deliveries).toEqual({ total: 3, pending: 0, retrying: 0, succeeded: 3, failed: 0, cancelled: 0, aborted: 0 });
    expect(failed.body.deliveries).toEqual({ total: 2, pending: 0, retrying: 0, succeeded: 0, failed: 2, cancelled: 0, aborted: 0 });
    const until = Date.parse(ok.body.until);
    expect(Math.abs(until - Date.now())).toBeLessThan(60_000);
    expect(until - Date.parse(ok.body.since)).toBe(28 * 86_400_000);
  });

  it("are shown on the console's subscription page", async () => {
    const session = await consoleSession(app, t.token);
    const page = await (await session.get(`/console/subscriptions/${broken}`)).text();
    expect(page).toMatch(/<dt>Deliveries, last 28 days<\/dt>\s*<dd>2 failed<\/dd>/);
  });

  it("count the window asked for only", async () => {
    const before = await stats(healthy, `?until=${encodeURIComponent(new Date(started.getTime() - 1000).toISOString())}`);
    expect(before.status).toBe(200);
    expect(before.body.deliveries.total).toBe(0);
    const during = await stats(healthy, `?since=${encodeURIComponent(new Date(started.getTime() - 1000).toISOString())}&until=2999-01-01T00:00:00Z`.replace("2999", String(new Date().getUTCFullYear() + 1)));
    expect(during.status).toBe(200);
    expect(during.body.deliveries.total).toBe(3);
    expect(during.body.since).toBe(new Date(started.getTime() - 1000).toISOString());
  });

  it("refuse a window that is empty, too wide or not a time, naming the field", async () => {
    const cases: [string, string][] = [
      ["?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", "query.since"],
      ["?since=2026-01-01T00:00:00Z&until=2026-01-01T00:00:00Z", "query.since"],
      ["?until=2026-01-01T00:00:00Z&since=2024-01-01T00:00:00Z", "query.since"],
      ["?since=yesterday", "query.since"],
      ["?until=2026-02-30T00:00:00Z", "query.until"],
      ["?until=0001-01-01T00:00:00Z", "query.until"],
      ["?since=x&since=y", "query.since"],
      ["?from=2026-01-01T00:00:00Z", "query.from"],
    ];
    for (const [query, field] of cases) {
      const refused = await stats(healthy, query);
      expect(refused.status, query).toBe(400);
      expect(refused.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(refused.body.errors?.[0]?.field, query).toBe(field);
    }
    // The first days of year 1 count from its start (PostgreSQL has no year 0), rather than failing.
    const earliest = await stats(healthy, "?until=0001-01-05T00:00:00Z");
    expect(earliest.status).toBe(200);
    expect(earliest.body).toMatchObject({ since: "0001-01-01T00:00:00.000Z", deliveries: { total: 0 } });
  });

  it("are another organization's or application's 404, and need events:read", async () => {
    const other = await createTenant(app, "Other Co");
    expect((await stats(healthy, "", other.token)).status).toBe(404);
    const otherApp = await app.call("POST", "/v1/applications", t.token, { name: "other" });
    const confined = await app.call("POST", "/v1/tokens", t.token, { label: "other app", scopes: ["admin"], app_id: otherApp.body.id });
    expect((await stats(healthy, "", confined.body.token)).status).toBe(404);
    const writer = await app.call("POST", "/v1/tokens", t.token, { label: "no reads", scopes: ["subscriptions:read"] });
    expect((await stats(healthy, "", writer.body.token)).status).toBe(403);
    expect((await stats("not-a-uuid")).status).toBe(404);
  });
});
