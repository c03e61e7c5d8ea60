/**
 * A PATCH that names no field answers the resource as it is and records nothing: an `.updated` entry naming no
 * change is a fact that never happened (it filled the ledger and the audit log, and told `endpoint.updated`
 * subscribers of a change without a field). A PATCH that names a field still records it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { outboundTenant } from "../outbound/setup.ts";

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof outboundTenant>>;
const paths: Record<string, { path: string; token: () => string; change: Record<string, unknown> }> = {};

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  t = await outboundTenant(app, ["invoice.paid"]);
  const subscription = await t.subscribe({ url: "http://127.0.0.1:9/hook", event_types: ["invoice.paid"] });
  expect((await app.call("POST", "/v1/pull-queues", t.token, { name: "inbox" })).status).toBe(201);
  const route = await app.call("POST", "/v1/ingress-routes", t.token, { name: "github", auth: { type: "hmac", preset: "github" }, secrets: [{ id: "first", value: "given-secret" }], queue: "inbox" });
  expect(route.status).toBe(201);
  const org = () => t.token;
  Object.assign(paths, {
    organization: { path: `/v1/organizations/${t.orgId}`, token: () => TEST_ADMIN_TOKEN, change: { name: "Renamed" } },
    application: { path: `/v1/applications/${t.appId}`, token: org, change: { name: "renamed" } },
    "event type": { path: `/v1/applications/${t.appId}/event-types/invoice.paid`, token: org, change: { description: "paid" } },
    subscription: { path: `/v1/subscriptions/${subscription.id}`, token: org, change: { description: "main" } },
    "ingress route": { path: `/v1/ingress-routes/${route.body.id}`, token: org, change: { name: "github 2" } },
    "route secret": { path: `/v1/ingress-routes/${route.body.id}/secrets/first`, token: org, change: { valid_until: new Date(Date.now() + 3_600_000).toISOString() } },
    "pull queue": { path: "/v1/pull-queues/inbox", token: org, change: { max_deliveries: 7 } },
  });
});
afterAll(async () => {
  await app?.stop();
  await db.drop();
});

const entries = async () => (await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger where org_id = ${t.orgId}`)[0]?.n ?? 0;

describe("PATCH with no field", () => {
  it.each(["organization", "application", "event type", "subscription", "ingress route", "route secret", "pull queue"])("%s: answers it as it is, records nothing", async (name) => {
    const { path, token, change } = paths[name] as (typeof paths)[string];
    const before = await app.call("GET", path.replace(/\/secrets\/first$/, ""), token());
    expect(before.status).toBe(200);
    const count = await entries();
    const empty = await app.call("PATCH", path, token(), {});
    expect(empty.status).toBe(200);
    expect(await entries()).toBe(count);
    // What the PATCH answers is what GET shows (an ingress route's GET adds its secrets and counters).
    if (!path.endsWith("/secrets/first")) expect(before.body).toMatchObject(empty.body);
    else expect(before.body.secrets).toContainEqual(empty.body);

    // A field named is still a change, recorded once.
    const changed = await app.call("PATCH", path, token(), change);
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(await entries()).toBeGreaterThan(count);
  });
});
