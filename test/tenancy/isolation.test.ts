/**
 * Tenant isolation, proven three ways: through every /v1 route that takes an id, through raw SQL as the
 * service role, and by enumerating the schema so a new table without forced row-level security fails here.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withTenant } from "../../src/db/tenant.ts";
import { createTenant, eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let a: { orgId: string; token: string; tokenId: string };
let b: { orgId: string; token: string; tokenId: string };
const ids: Record<string, string> = {};

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true });
  receiver = await startReceiver();
  receiver.respond("/b", { status: 500 });
  a = await createTenant(app, "Tenant A");
  b = await createTenant(app, "Tenant B");
  await app.call("POST", "/v1/applications", a.token, { name: "A's app" });
  const bApp = await app.call("POST", "/v1/applications", b.token, { name: "B's app" });
  const bToken = await app.call("POST", "/v1/tokens", b.token, { label: "B reader", scopes: ["events:read"] });
  await app.call("POST", `/v1/applications/${bApp.body.id}/event-types`, b.token, { name: "b.happened" });
  const bSub = await app.call("POST", "/v1/subscriptions", b.token, { app_id: bApp.body.id, url: receiver.url("/b"), event_types: ["*"], max_attempts: 1 });
  await app.call("POST", "/v1/events", b.token, { app_id: bApp.body.id, event_type: "b.happened", event_id: "evt_tenant_b", payload: { secret: "B's data" } });
  const delivery = await eventually(async () => {
    const event = await app.call("GET", "/v1/events/evt_tenant_b", b.token);
    return event.body.deliveries[0]?.status === "failed" ? event.body.deliveries[0] : undefined;
  });
  const attempts = await app.call("GET", `/v1/attempts?delivery_id=${delivery.id}`, b.token);
  ids.org_id = b.orgId;
  ids.app_id = bApp.body.id;
  ids.token_id = bToken.body.id;
  ids.subscription_id = bSub.body.id;
  ids.name = "b.happened";
  ids.event_id = "evt_tenant_b";
  ids.delivery_id = delivery.id;
  ids.attempt_id = attempts.body.data[0].id;
  const bQueue = await app.call("POST", "/v1/pull-queues", b.token, { name: "b-queue" });
  const bRoute = await app.call("POST", "/v1/ingress-routes", b.token, {
    name: "B's route",
    auth: { type: "hmac", preset: "github" },
    queue: "b-queue",
    secrets: [{ id: "b-secret", value: "B's secret" }],
  });
  if (bQueue.status !== 201 || bRoute.status !== 201) throw new Error(`seeding B's inbound resources: ${bQueue.status} ${bRoute.status}`);
  ids.route_id = bRoute.body.id;
  ids.secret_id = "b-secret";
  ids.queue = "b-queue";
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

/** Every /v1 route with an id parameter, with a body that would be valid for the caller's own resource. */
const routesWithIds: { method: string; path: string; body?: unknown }[] = [
  { method: "GET", path: "/v1/organizations/:org_id" },
  { method: "PATCH", path: "/v1/organizations/:org_id", body: { name: "pwned" } },
  { method: "DELETE", path: "/v1/organizations/:org_id" },
  { method: "POST", path: "/v1/organizations/:org_id/tokens", body: { label: "pwned", scopes: ["admin"] } },
  { method: "GET", path: "/v1/applications/:app_id" },
  { method: "PATCH", path: "/v1/applications/:app_id", body: { name: "pwned" } },
  { method: "DELETE", path: "/v1/applications/:app_id" },
  { method: "POST", path: "/v1/applications/:app_id/portal-links" },
  { method: "GET", path: "/v1/tokens/:token_id" },
  { method: "DELETE", path: "/v1/tokens/:token_id" },
  { method: "POST", path: "/v1/applications/:app_id/event-types", body: { name: "pwned.type" } },
  { method: "GET", path: "/v1/applications/:app_id/event-types" },
  { method: "GET", path: "/v1/applications/:app_id/event-types/:name" },
  { method: "PATCH", path: "/v1/applications/:app_id/event-types/:name", body: { deprecated: true } },
  { method: "DELETE", path: "/v1/applications/:app_id/event-types/:name" },
  { method: "GET", path: "/v1/subscriptions/:subscription_id" },
  { method: "PATCH", path: "/v1/subscriptions/:subscription_id", body: { description: "pwned" } },
  { method: "DELETE", path: "/v1/subscriptions/:subscription_id" },
  { method: "POST", path: "/v1/subscriptions/:subscription_id/enable" },
  { method: "POST", path: "/v1/subscriptions/:subscription_id/disable" },
  { method: "GET", path: "/v1/subscriptions/:subscription_id/secret" },
  { method: "POST", path: "/v1/subscriptions/:subscription_id/secret/rotate", body: {} },
  { method: "POST", path: "/v1/subscriptions/:subscription_id/test" },
  { method: "POST", path: "/v1/subscriptions/:subscription_id/recover", body: { since: "2000-01-01T00:00:00Z" } },
  { method: "POST", path: "/v1/subscriptions/:subscription_id/replay-missing", body: { since: "2000-01-01T00:00:00Z" } },
  { method: "GET", path: "/v1/subscriptions/:subscription_id/deliveries" },
  { method: "GET", path: "/v1/subscriptions/:subscription_id/stats" },
  { method: "GET", path: "/v1/events/:event_id" },
  { method: "GET", path: "/v1/events/:event_id/deliveries" },
  { method: "POST", path: "/v1/events/:event_id/replay", body: {} },
  { method: "GET", path: "/v1/deliveries/:delivery_id" },
  { method: "POST", path: "/v1/deliveries/:delivery_id/retry" },
  { method: "GET", path: "/v1/attempts/:attempt_id" },
  { method: "GET", path: "/v1/ingress-routes/:route_id" },
  { method: "PATCH", path: "/v1/ingress-routes/:route_id", body: { name: "pwned" } },
  { method: "DELETE", path: "/v1/ingress-routes/:route_id" },
  { method: "POST", path: "/v1/ingress-routes/:route_id/secrets", body: { value: "pwned" } },
  { method: "PATCH", path: "/v1/ingress-routes/:route_id/secrets/:secret_id", body: { valid_until: "2000-01-01T00:00:00Z" } },
  { method: "DELETE", path: "/v1/ingress-routes/:route_id/secrets/:secret_id" },
  { method: "GET", path: "/v1/ingress-routes/:route_id/receipts" },
  { method: "POST", path: "/v1/ingress-routes/:route_id/publish", body: { body: "pwned" } },
  { method: "GET", path: "/v1/pull-queues/:queue" },
  { method: "PATCH", path: "/v1/pull-queues/:queue", body: { max_deliveries: 1 } },
  { method: "POST", path: "/v1/pull/:queue/dequeue", body: {} },
  { method: "POST", path: "/v1/pull/:queue/ack", body: { lease_ids: [randomUUID()] } },
  { method: "POST", path: "/v1/pull/:queue/nack", body: { lease_ids: [randomUUID()] } },
  { method: "POST", path: "/v1/pull/:queue/extend", body: { lease_ids: [randomUUID()], lease_seconds: 30 } },
  { method: "GET", path: "/v1/pull/:queue/dead-letters" },
  { method: "POST", path: "/v1/pull/:queue/dead-letters/replay", body: {} },
  { method: "POST", path: "/v1/pull/:queue/dead-letters/purge", body: {} },
];

const tenantTables = async () =>
  (
    await db.owner<{ name: string; rls: boolean; forced: boolean; policies: number }[]>`
      select c.relname as name, c.relrowsecurity as rls, c.relforcerowsecurity as forced,
             (select count(*)::int from pg_policy p where p.polrelid = c.oid) as policies
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'hookledger' and c.relkind in ('r', 'p') and not c.relispartition
      order by 1`
  );

describe("tenant isolation", () => {
  it("the table of routes covers every /v1 route that takes an id", () => {
    const served = app.routes.filter((r) => r.path.startsWith("/v1/") && r.path.includes("/:")).map((r) => `${r.method} ${r.path}`);
    expect(routesWithIds.map((r) => `${r.method} ${r.path}`).sort()).toEqual([...new Set(served)].sort());
  });

  it.each(routesWithIds)("$method $path with another tenant's id answers 404 and changes nothing", async (route) => {
    const before = await db.owner`select (select count(*)::int from hookledger.ledger) as n, (select count(*)::int from graphile_worker.jobs) as jobs`;
    const path = route.path.replace(/:(\w+)/g, (_, name: string) => ids[name] ?? "");
    const response = await app.call(route.method, path, a.token, route.body);
    expect(response.status).toBe(404);
    expect(response.body.type).toBe("urn:hookledger:problem:not-found");
    // `instance` echoes the caller's own request path; everything else must say nothing about B.
    const { instance: _path, ...rest } = response.body;
    expect(JSON.stringify(rest)).not.toMatch(/Tenant B|B's app|B reader|B's data|b\.happened|B's route|B's secret/);
    const after = await db.owner`select (select count(*)::int from hookledger.ledger) as n, (select count(*)::int from graphile_worker.jobs) as jobs`;
    expect(after).toEqual(before);
  });

  it("every tenant table has row-level security enabled, forced, and a policy", async () => {
    const tables = await tenantTables();
    expect(tables.length).toBeGreaterThanOrEqual(12);
    for (const table of tables) expect({ table: table.name, rls: table.rls, forced: table.forced, hasPolicy: table.policies > 0 }).toEqual({ table: table.name, rls: true, forced: true, hasPolicy: true });
    const columns = await db.owner<{ table_name: string }[]>`
      select table_name from information_schema.columns where table_schema = 'hookledger' and column_name = 'org_id'`;
    expect(new Set(columns.map((c) => c.table_name))).toEqual(expect.objectContaining({}));
    for (const table of tables) expect(columns.map((c) => c.table_name)).toContain(table.name);
  });

  it("the service role cannot read ledger partitions directly (policies live on the parent)", async () => {
    const [partition] = await db.owner<{ name: string }[]>`
      select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'hookledger.ledger'::regclass limit 1`;
    await expect(withTenant(db.service, a.orgId, (tx) => tx.unsafe(`select * from hookledger.${partition?.name}`))).rejects.toThrow(/permission denied/);
  });

  it("raw SQL as the service role sees no rows without a tenant, and only its own with one", async () => {
    for (const table of await tenantTables()) {
      const none = await db.service.unsafe(`select count(*)::int as n from hookledger.${table.name}`);
      expect({ table: table.name, rows: none[0]?.n }).toEqual({ table: table.name, rows: 0 });
      const foreign = await withTenant(db.service, a.orgId, (tx) => tx.unsafe(`select count(*)::int as n from hookledger.${table.name} where org_id <> '${a.orgId}'`));
      expect({ table: table.name, rows: foreign[0]?.n }).toEqual({ table: table.name, rows: 0 });
    }
    const own = await withTenant(db.service, a.orgId, (tx) => tx`select count(*)::int as n from hookledger.applications`);
    expect(own[0]?.n).toBe(1);
    // A session-level setting left behind by someone else is no way in either: policies read the transaction's.
    const unknownTenant = await withTenant(db.service, randomUUID(), (tx) => tx`select count(*)::int as n from hookledger.ledger`);
    expect(unknownTenant[0]?.n).toBe(0);
  });
});
