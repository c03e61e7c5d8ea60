/**
 * The console's and the portal's application pages take an application's uid wherever they take its id — the
 * application page, its Add endpoint form, the events filter — as every `/v1` route does, and show the same page:
 * links and form actions name the stored id. A uid no live application of the organization has, another
 * organization's, or another application's than an application token's own, is the 404 an unknown id is; none is
 * a 500. Plain HTTP with real sessions.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, startTestApp, type TestApp } from "../support/app.ts";
import { consoleSession, type ConsoleSession } from "../support/consoleSession.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
let app: TestApp;
let tenant: { orgId: string; token: string };
let session: ConsoleSession;
let appId: string;
let otherAppId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  tenant = await createTenant(app, "Uid Pages");
  const other = await createTenant(app, "Elsewhere");
  appId = (await app.call("POST", "/v1/applications", tenant.token, { name: "Billing", uid: "cust_billing" })).body.id;
  otherAppId = (await app.call("POST", "/v1/applications", tenant.token, { name: "Shipping", uid: "cust_shipping" })).body.id;
  await app.call("POST", "/v1/applications", other.token, { name: "Theirs", uid: "their-app" });
  for (const id of [appId, otherAppId]) await app.call("POST", `/v1/applications/${id}/event-types`, tenant.token, { name: "invoice.paid" });
  await app.call("POST", "/v1/events", tenant.token, { app_id: appId, event_type: "invoice.paid", event_id: "evt_billing", payload: {} });
  await app.call("POST", "/v1/events", tenant.token, { app_id: otherAppId, event_type: "invoice.paid", event_id: "evt_shipping", payload: {} });
  session = await consoleSession(app, tenant.token);
});

afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

const subscriptionsOf = async (id: string) =>
  (await db.owner<{ url: string }[]>`select url from hookledger.subscriptions where org_id = ${tenant.orgId} and app_id = ${id} and deleted_at is null order by url`).map((row) => row.url);

describe("console application pages by uid", () => {
  it("shows the application page for its uid as for its id, with links naming the id", async () => {
    const byId = await session.get(`/console/applications/${appId}`);
    const byUid = await session.get("/console/applications/cust_billing");
    expect(byUid.status).toBe(200);
    const html = await byUid.text();
    expect(html).toContain("<h1>Billing</h1>");
    expect(html).toContain(`href="/console/applications/${appId}/new-subscription"`);
    expect(html).toContain(`href="/console/events?app_id=${appId}"`);
    expect(html).not.toContain("/console/applications/cust_billing");
    // The same page, but for the per-response nonce.
    const unNonced = (text: string) => text.replace(/nonce="[^"]*"/g, 'nonce=""');
    expect(unNonced(html)).toBe(unNonced(await byId.text()));
  });

  it("renders and saves the Add endpoint form for a uid, under the application's id", async () => {
    const form = await session.get("/console/applications/cust_billing/new-subscription");
    expect(form.status).toBe(200);
    expect(await form.text()).toContain(`<form method="post" action="/console/applications/${appId}/new-subscription"`);

    const posted = await session.post("/console/applications/cust_billing/new-subscription", "url=http%3A%2F%2F127.0.0.1%3A9%2Fby-uid&event_types=*");
    expect(posted.status).toBe(200);
    expect(await posted.text()).toContain("Endpoint added");
    expect(await subscriptionsOf(appId)).toEqual(["http://127.0.0.1:9/by-uid"]);
    expect(await subscriptionsOf(otherAppId)).toEqual([]);
  });

  it("answers 404 for a uid no live application of the organization has, never a 500", async () => {
    for (const uid of ["no-such-app", "their-app"]) {
      for (const path of [`/console/applications/${uid}`, `/console/applications/${uid}/new-subscription`]) {
        const answer = await session.get(path);
        expect(answer.status, path).toBe(404);
        expect(await answer.text(), path).toContain("no such application");
      }
      const posted = await session.post(`/console/applications/${uid}/new-subscription`, "url=http%3A%2F%2F127.0.0.1%3A9%2Fnowhere&event_types=*");
      expect(posted.status, uid).toBe(404);
    }
    expect(await db.owner`select 1 from hookledger.subscriptions where url = 'http://127.0.0.1:9/nowhere'`).toHaveLength(0);
  });

  it("filters the events page by an application's uid; an unknown uid lists none", async () => {
    const filtered = await session.get("/console/events?app_id=cust_billing");
    expect(filtered.status).toBe(200);
    const html = await filtered.text();
    expect(html).toContain("evt_billing");
    expect(html).not.toContain("evt_shipping");
    // The filter's select shows the application chosen, by its id.
    expect(html).toContain(`<option value="${appId}" selected>`);

    for (const uid of ["no-such-app", "their-app"]) {
      const none = await session.get(`/console/events?app_id=${uid}`);
      expect(none.status, uid).toBe(200);
      const text = await none.text();
      expect(text, uid).toContain("No events match these filters.");
      expect(text, uid).not.toContain("evt_billing");
    }
  });

  it("gives an application token's session its own application by uid, and another's uid as not found", async () => {
    const token = await app.call("POST", "/v1/tokens", tenant.token, { label: "billing only", scopes: ["applications:read", "events:read", "subscriptions:read"], app_id: "cust_billing" });
    expect(token.status).toBe(201);
    const confined = await consoleSession(app, token.body.token);
    expect((await confined.get("/console/applications/cust_billing")).status).toBe(200);
    expect((await confined.get("/console/applications/cust_shipping")).status).toBe(404);
    expect((await confined.get(`/console/applications/${otherAppId}`)).status).toBe(404);

    const own = await confined.get("/console/events?app_id=cust_billing");
    expect(own.status).toBe(200);
    expect(await own.text()).toContain("evt_billing");
    const theirs = await confined.get("/console/events?app_id=cust_shipping");
    expect(theirs.status).toBe(404);
    expect(await theirs.text()).not.toContain("evt_shipping");
  });

  it("shows the portal's application page for its own uid", async () => {
    const minted = await app.call("POST", "/v1/applications/cust_billing/portal-links", tenant.token);
    expect(minted.status).toBe(201);
    const entered = await app.fetch(new URL(minted.body.url).pathname + new URL(minted.body.url).search, { redirect: "manual" });
    expect(entered.status).toBe(303);
    const cookie = (entered.headers.getSetCookie().find((value) => value.startsWith("hl_portal=")) ?? "").split(";")[0] as string;
    const byUid = await app.fetch("/portal/applications/cust_billing", { headers: { cookie }, redirect: "manual" });
    expect(byUid.status).toBe(200);
    expect(await byUid.text()).toContain("<h1>Billing</h1>");
    expect((await app.fetch("/portal/applications/cust_shipping", { headers: { cookie }, redirect: "manual" })).status).toBe(404);
  });
});
