/**
 * Read-only portal links (`{"read_only": true}`, Svix's read-only app portal) and the signing-secret reveal of the
 * console's and the portal's subscription pages.
 *
 * A read-only link needs only the portal's read scopes to mint; its session sees the application's endpoints,
 * events and deliveries, offers no action, and is refused every change and every secret reveal even with a valid
 * form token. A full session (and the console) can reveal the signing secret: the page shows the secret the JSON
 * API's audited reveal answers, and each reveal is a `subscription.secret_revealed` entry.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rebuildProjectionForAll } from "../../src/ledger/rebuildAll.ts";
import { createTenant, startTestApp, type TestApp } from "../support/app.ts";
import { consoleSession, portalSession } from "../support/consoleSession.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let endpoint: string;
let tenant: { orgId: string; token: string; tokenId: string };
let appId: string;
let subscriptionId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  receiver = await startReceiver();
  endpoint = receiver.url("/hooks");
  tenant = await createTenant(app, "Read Only Co");
  appId = (await app.call("POST", "/v1/applications", tenant.token, { name: "Billing" })).body.id;
  await app.call("POST", `/v1/applications/${appId}/event-types`, tenant.token, { name: "invoice.paid" });
  subscriptionId = (await app.call("POST", "/v1/subscriptions", tenant.token, { app_id: appId, url: endpoint, event_types: ["invoice.paid"] })).body.id;
});

afterAll(async () => {
  await receiver?.close();
  await app?.stop();
  await db?.drop();
});

const mint = (token: string, body?: unknown) => app.call("POST", `/v1/applications/${appId}/portal-links`, token, body);
const token = async (scopes: string[]) => (await app.call("POST", "/v1/tokens", tenant.token, { label: scopes.join(" "), scopes })).body.token as string;
const revealed = () =>
  db.owner<{ data: { subscription_id: string }; actor: string | null }[]>`
    select data, meta -> 'actor' ->> 'label' as actor from hookledger.ledger
    where org_id = ${tenant.orgId} and type = 'subscription.secret_revealed' order by position`;

describe("read-only portal links", () => {
  it("need only the portal's read scopes to mint, and say they are read-only", async () => {
    const reader = await token(["applications:read", "subscriptions:read", "events:read"]);
    expect((await mint(reader)).status).toBe(403);
    const minted = await mint(reader, { read_only: true });
    expect(minted.status).toBe(201);
    expect(minted.body).toMatchObject({ app_id: appId, read_only: true });
    expect((await mint(await token(["applications:read", "subscriptions:read"]), { read_only: true })).status).toBe(403);
    const full = await mint(tenant.token);
    expect(full.status).toBe(201);
    expect(full.body.read_only).toBe(false);
    expect((await mint(tenant.token, { read_only: false })).body.read_only).toBe(false);
  });

  it("refuse a body that is not the link's options, naming the field", async () => {
    const wrong = await mint(tenant.token, { read_only: "yes" });
    expect(wrong.status).toBe(400);
    expect(wrong.body.errors).toEqual([expect.objectContaining({ field: "read_only" })]);
    const unknown = await mint(tenant.token, { readOnly: true });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual([expect.objectContaining({ field: "readOnly" })]);
  });

  it("open a session that shows the application and offers no change", async () => {
    const portal = await portalSession(app, (await mint(tenant.token, { read_only: true })).body.url);
    expect(portal.landing).toBe(`/portal/applications/${appId}`);
    const application = await (await portal.get(portal.landing)).text();
    expect(application).toContain(endpoint);
    expect(application).not.toContain("Add endpoint");
    const subscription = await portal.get(`/portal/subscriptions/${subscriptionId}`);
    expect(subscription.status).toBe(200);
    const page = await subscription.text();
    for (const action of ["Edit", "Reveal secret", "Rotate secret", "Disable", "Send test event"]) expect(page).not.toContain(`>${action}</a>`);
  });

  it("refuse every change and every secret reveal, with a valid form token", async () => {
    const portal = await portalSession(app, (await mint(tenant.token, { read_only: true })).body.url);
    for (const path of ["reveal-secret", "rotate-secret", "disable", "test", "edit"]) {
      expect((await portal.get(`/portal/subscriptions/${subscriptionId}/${path}`)).status).toBe(403);
    }
    const before = (await revealed()).length;
    for (const path of ["reveal-secret", "rotate-secret", "disable", "test"]) {
      const refused = await portal.post(`/portal/subscriptions/${subscriptionId}/${path}`, "overlap_hours=0&reason=x");
      expect(refused.status).toBe(403);
      expect(await refused.text()).not.toMatch(/whsec_/);
    }
    expect((await portal.post(`/portal/applications/${appId}/new-subscription`, `url=${encodeURIComponent(receiver.url("/other"))}&event_types=invoice.paid`)).status).toBe(403);
    expect((await app.call("GET", `/v1/subscriptions/${subscriptionId}`, tenant.token)).body.enabled).toBe(true);
    expect((await app.call("GET", `/v1/subscriptions?app_id=${appId}`, tenant.token)).body.data).toHaveLength(1);
    expect(await revealed()).toHaveLength(before);
  });

  it("keep read-only through a rebuild of the links and sessions", async () => {
    for (const [projection, table, key] of [
      ["portal_links", "portal_links", "link_id"],
      ["console_sessions", "console_sessions", "session_id"],
    ] as const) {
      const snapshot = () => db.owner.unsafe(`select * from hookledger.${table} order by org_id, ${key}`);
      const live = await snapshot();
      expect(live.some((row) => row.read_only === true)).toBe(true);
      await rebuildProjectionForAll(app.ctx, projection);
      expect(await snapshot()).toEqual(live);
    }
  });
});

describe("the signing secret on the subscription page", () => {
  it("is revealed to a full portal session, audited, as the JSON API reveals it", async () => {
    const portal = await portalSession(app, (await mint(tenant.token)).body.url);
    expect(await (await portal.get(`/portal/subscriptions/${subscriptionId}`)).text()).toContain(">Reveal secret</a>");
    const confirm = await portal.get(`/portal/subscriptions/${subscriptionId}/reveal-secret`);
    expect(confirm.status).toBe(200);
    expect(await confirm.text()).not.toMatch(/whsec_/);
    const before = (await revealed()).length;
    const shown = await portal.post(`/portal/subscriptions/${subscriptionId}/reveal-secret`, "reason=wiring+the+receiver");
    expect(shown.status).toBe(200);
    expect(shown.headers.get("cache-control")).toBe("no-store");
    const secret = /<code id="revealed-secret">([^<]+)<\/code>/.exec(await shown.text())?.[1];
    const api = await app.call("GET", `/v1/subscriptions/${subscriptionId}/secret`, tenant.token);
    expect(secret).toBe(api.body.secret);
    const entries = await revealed();
    expect(entries).toHaveLength(before + 2);
    expect(entries[before]).toMatchObject({ data: { subscription_id: subscriptionId }, actor: "portal: Read Only Co admin" });
  });

  it("is revealed in the console, and needs the write scope there too", async () => {
    const console = await consoleSession(app, tenant.token);
    const shown = await console.post(`/console/subscriptions/${subscriptionId}/reveal-secret`, "reason=x");
    expect(shown.status).toBe(200);
    expect(await shown.text()).toMatch(/<code id="revealed-secret">whsec_/);
    const reader = await consoleSession(app, await token(["applications:read", "subscriptions:read", "events:read"]));
    expect(await (await reader.get(`/console/subscriptions/${subscriptionId}`)).text()).not.toContain("Reveal secret");
    const refused = await reader.post(`/console/subscriptions/${subscriptionId}/reveal-secret`, "reason=x");
    expect(refused.status).toBe(403);
    expect(await refused.text()).not.toMatch(/whsec_/);
  });
});
