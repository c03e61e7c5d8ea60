/** Every projection rebuilt from the ledger equals the live one. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rebuildProjectionForAll } from "../../src/ledger/rebuildAll.ts";
import { createTenant, eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "../outbound/setup.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;

beforeAll(async () => {
  db = await createTestDatabase();
  // /dead fails 6 times in all; whether its circuit opens before the last attempt depends on timing, so the
  // cool-down is short enough for every delivery to settle either way.
  app = await startTestApp(db, { worker: true, env: { HOOKLEDGER_CIRCUIT_COOLDOWN_SECONDS: "1", HOOKLEDGER_CIRCUIT_MAX_COOLDOWN_SECONDS: "1" } });
  receiver = await startReceiver();
  receiver.respond("/flaky", { status: 500 }, { status: 200 });
  receiver.respond("/dead", { status: 410 });
  // Outbound: subscriptions (updated, disabled, rotated), events, deliveries with retries, failures and replays.
  const out = await outboundTenant(app);
  // Operational webhooks (an operational application, its event types, events and deliveries) and a receiver
  // that aborts its deliveries.
  const operational = await app.call("POST", "/v1/operational-webhooks", out.token);
  await app.call("POST", "/v1/subscriptions", out.token, { app_id: operational.body.app_id, url: receiver.url("/ops"), event_types: ["*"] });
  receiver.respond("/abort", { status: 409, headers: { "webhook-delivery": "abort-message" } });
  await out.subscribe({ url: receiver.url("/abort"), event_types: ["invoice.voided"] });
  // Custom headers: credential-like values sealed, a plain one in clear, then changed keeping one sealed value.
  const ok = await out.subscribe({ url: receiver.url("/ok"), event_types: ["invoice.*"], headers: { "X-Api-Key": "k_rebuild_1", Authorization: "Bearer b1", "X-Tenant": "t1" } });
  await app.call("PATCH", `/v1/subscriptions/${ok.id}`, out.token, { headers: { "x-api-key": "[redacted]", authorization: "Bearer b2", "x-tenant": "t2" } });
  await out.subscribe({ url: receiver.url("/flaky"), event_types: ["invoice.paid"], retry_schedule: [0.05] });
  const dead = await out.subscribe({ url: receiver.url("/dead"), event_types: ["user.created"], max_attempts: 2, retry_schedule: [0.05] });
  await app.call("PATCH", `/v1/subscriptions/${ok.id}`, out.token, { description: "patched" });
  // Channels (sql/091): given on create, changed, cleared; events below carry none, one or two.
  const channelled = await out.subscribe({ url: receiver.url("/ok"), event_types: ["user.created"], channels: ["eu", "us"] });
  await app.call("PATCH", `/v1/subscriptions/${channelled.id}`, out.token, { channels: ["eu"] });
  const unchannelled = await out.subscribe({ url: receiver.url("/ok"), event_types: ["user.created"], channels: ["ap"] });
  await app.call("PATCH", `/v1/subscriptions/${unchannelled.id}`, out.token, { channels: null });
  await app.call("POST", `/v1/subscriptions/${ok.id}/secret/rotate`, out.token, { overlap_seconds: 60 });
  await app.call("PATCH", `/v1/applications/${out.appId}/event-types/invoice.voided`, out.token, { deprecated: true });
  for (let i = 0; i < 10; i++) {
    // user.created goes to the subscription of channel eu with rb_5 only (rb_2 carries us and ap, rb_8 none).
    const channels = [undefined, ["eu"], ["us", "ap"], ["eu", "us"]][i % 4];
    await out.send({ event_id: `rb_${i}`, event_type: ["invoice.paid", "invoice.voided", "user.created"][i % 3], ...(channels ? { channels } : {}) });
  }
  await app.call("POST", "/v1/events/rb_0/replay", out.token);
  await eventually(async () => {
    const [row] = await db.owner<{ open: number }[]>`select count(*)::int as open from hookledger.deliveries where status in ('pending', 'retrying')`;
    return row?.open === 0 ? true : undefined;
  }, 20_000, "all deliveries to settle");
  await app.call("POST", `/v1/subscriptions/${dead.id}/disable`, out.token);
  // A few hundred entries of every tenancy kind, including updates, deletes and cascades.
  for (let t = 0; t < 3; t++) {
    const tenant = await createTenant(app, `Tenant ${t}`);
    for (let i = 0; i < 30; i++) {
      // Uids: given on create (odd ones), moved by PATCH, cleared, and freed by a delete then given again below.
      const created = await app.call("POST", "/v1/applications", tenant.token, { name: `app ${i}`, metadata: { i: String(i) }, ...(i % 2 === 1 ? { uid: `cust-${t}-${i}` } : {}) });
      if (i % 2 === 0) await app.call("PATCH", `/v1/applications/${created.body.id}`, tenant.token, { description: `d${i}`, metadata: { even: "yes" } });
      if (i % 6 === 0) await app.call("PATCH", `/v1/applications/${created.body.id}`, tenant.token, { uid: `moved-${t}-${i}` });
      if (i % 14 === 1) expect((await app.call("PATCH", `/v1/applications/cust-${t}-${i}`, tenant.token, { uid: null })).status).toBe(200);
      if (i % 3 === 0) await app.call("POST", "/v1/tokens", tenant.token, { label: `app token ${i}`, scopes: ["events:write"], app_id: created.body.id });
      if (i % 5 === 0) await app.call("DELETE", `/v1/applications/${created.body.id}`, tenant.token);
      if (i % 4 === 0) {
        const token = await app.call("POST", "/v1/tokens", tenant.token, { label: `org token ${i}`, scopes: ["applications:read"] });
        if (i % 8 === 0) await app.call("DELETE", `/v1/tokens/${token.body.id}`, tenant.token);
      }
    }
    expect((await app.call("POST", "/v1/applications?get_if_exists=true", tenant.token, { name: "reuses a freed uid", uid: `cust-${t}-5` })).status).toBe(201);
    await app.call("PATCH", `/v1/organizations/${tenant.orgId}`, tenant.token, { name: `Renamed ${t}` });
  }
  const doomed = await createTenant(app, "Doomed");
  await app.call("POST", "/v1/applications", doomed.token, { name: "goes with the org" });
  await app.call("DELETE", `/v1/organizations/${doomed.orgId}`, "hl_adm_test_instance_admin_token_0123456789abcdef");
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

const snapshot = (table: string, key: string) => db.owner.unsafe(`select * from hookledger.${table} order by org_id, ${key}`);

describe("projection rebuild", () => {
  it("the ledger holds a few hundred entries", async () => {
    const [row] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger`;
    expect(row?.n).toBeGreaterThan(200);
  });

  it("the scenario holds applications with uids, live and deleted, moved and cleared", async () => {
    const [row] = await db.owner<{ live: number; deleted: number; moved: number; cleared: number }[]>`
      select count(*) filter (where uid is not null and deleted_at is null)::int as live,
             count(*) filter (where uid is not null and deleted_at is not null)::int as deleted,
             count(*) filter (where uid like 'moved-%')::int as moved,
             (select count(*)::int from hookledger.ledger where type = 'application.updated' and data ? 'uid' and data->'uid' = 'null'::jsonb) as cleared
      from hookledger.applications`;
    expect(row).toMatchObject({ live: expect.any(Number), deleted: expect.any(Number) });
    for (const n of Object.values(row ?? {})) expect(n).toBeGreaterThan(0);
  });

  it("the scenario holds aborted deliveries, an operational application and operational events", async () => {
    const [row] = await db.owner<{ aborted: number; operational: number; published: number }[]>`
      select (select count(*)::int from hookledger.deliveries where status = 'aborted') as aborted,
             (select count(*)::int from hookledger.applications where operational) as operational,
             (select count(*)::int from hookledger.events e join hookledger.applications a using (org_id, app_id) where a.operational) as published`;
    expect(row?.aborted).toBeGreaterThan(0);
    expect(row?.operational).toBe(1);
    expect(row?.published).toBeGreaterThan(3);
  });

  it("the scenario holds events and subscriptions with channels, and a subscription whose channels were cleared", async () => {
    const [row] = await db.owner<{ events: number; subscriptions: number; cleared: number }[]>`
      select (select count(*)::int from hookledger.events where channels is not null) as events,
             (select count(*)::int from hookledger.subscriptions where channels = '{eu}') as subscriptions,
             (select count(*)::int from hookledger.ledger where type = 'subscription.updated' and data->'channels' = 'null'::jsonb) as cleared`;
    expect(row).toEqual({ events: expect.any(Number), subscriptions: 1, cleared: 1 });
    expect(row?.events).toBeGreaterThan(3);
  });

  it("has subscriptions with sealed custom headers to rebuild", async () => {
    const [row] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.subscriptions where sealed_headers ? 'x-api-key' and headers ? 'x-tenant'`;
    expect(row?.n).toBe(1);
  });

  it.each([
    ["organizations", "organizations", "org_id"],
    ["applications", "applications", "app_id"],
    ["api_tokens", "api_tokens", "token_id"],
    ["event_types", "event_types", "app_id, name"],
    ["subscriptions", "subscriptions", "subscription_id"],
    ["events", "events", "event_id"],
    ["deliveries", "deliveries", "delivery_id"],
    ["delivery_attempts", "delivery_attempts", "attempt_id"],
  ])("rebuilding %s reproduces the live table exactly", async (projection, table, key) => {
    const live = await snapshot(table, key);
    expect(live.length).toBeGreaterThanOrEqual(3);
    const result = await rebuildProjectionForAll(app.ctx, projection);
    // Five organizations (one since deleted); the instance's own entries are rebuilt but are no organization.
    expect(result.organizations).toBe(5);
    expect(await snapshot(table, key)).toEqual(live);
  });

  it("refuses an unknown projection by name", async () => {
    await expect(rebuildProjectionForAll(app.ctx, "nope")).rejects.toThrow(/no projection named nope; known: organizations, applications, api_tokens, event_types, subscriptions, events, deliveries, delivery_attempts/);
  });
});
