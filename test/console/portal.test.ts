/**
 * The portal in a real browser: an organization mints a single-use link for one application; the link opens a
 * portal session once; the portal shows that application only, lets its customer add, test and disable an
 * endpoint, and can be framed only by the origins the organization allows.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Locator, Page } from "playwright-core";
import { rebuildProjectionForAll } from "../../src/ledger/rebuildAll.ts";
import { createTenant, eventually, startTestApp, type TestApp } from "../support/app.ts";
import { launchBrowser, type TestBrowser } from "../support/browser.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies and ledger rows are asserted field by field */

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let browser: TestBrowser;
let page: Page;
let tenant: { orgId: string; token: string; tokenId: string };
let appA: string;
let appB: string;
let link: string;
const embedders: Server[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true });
  receiver = await startReceiver();
  tenant = await createTenant(app, "Portal Co");
  appA = (await app.call("POST", "/v1/applications", tenant.token, { name: "Billing" })).body.id;
  appB = (await app.call("POST", "/v1/applications", tenant.token, { name: "Shipping" })).body.id;
  for (const appId of [appA, appB]) await app.call("POST", `/v1/applications/${appId}/event-types`, tenant.token, { name: "invoice.paid" });
  await app.call("POST", "/v1/subscriptions", tenant.token, { app_id: appA, url: receiver.url("/a"), event_types: ["invoice.paid"] });
  await app.call("POST", "/v1/subscriptions", tenant.token, { app_id: appB, url: receiver.url("/b-only"), event_types: ["invoice.paid"] });
  await app.call("POST", "/v1/events", tenant.token, { app_id: appA, event_type: "invoice.paid", event_id: "evt_a", payload: { n: 1 } });
  await app.call("POST", "/v1/events", tenant.token, { app_id: appB, event_type: "invoice.paid", event_id: "evt_b", payload: { n: 2 } });
  browser = await launchBrowser();
  page = await browser.newPage();
});

afterAll(async () => {
  await browser?.close();
  for (const server of embedders) await new Promise((resolve) => server.close(resolve));
  await receiver?.close();
  await app?.stop();
  await db?.drop();
});

const url = (path: string) => `${app.baseUrl}${path}`;
const text = (locator: Locator) => locator.first().innerText();
const mint = (appId: string, token = tenant.token) => app.call("POST", `/v1/applications/${appId}/portal-links`, token);
const ledger = (type: string) => db.owner<any[]>`select data, meta from hookledger.ledger where org_id = ${tenant.orgId} and type = ${type} order by position`;

/** A page on another loopback port that frames a portal link, as a tenant's own product would. */
async function embedder(src: string): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(`<!doctype html><title>Tenant product</title><h1>Tenant product</h1><iframe title="portal" src="${src}" width="900" height="600"></iframe>`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  embedders.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("portal links", () => {
  it("are minted by an organization token holding the portal's scopes, for an application of its own", async () => {
    const appToken = await app.call("POST", "/v1/tokens", tenant.token, { label: "billing app", scopes: ["admin"], app_id: appA });
    expect((await mint(appA, appToken.body.token)).status).toBe(403);
    const reader = await app.call("POST", "/v1/tokens", tenant.token, { label: "reader", scopes: ["applications:read", "events:read"] });
    expect((await mint(appA, reader.body.token)).status).toBe(403);
    expect((await mint("00000000-0000-4000-8000-000000000000")).status).toBe(404);
    const other = await createTenant(app, "Other Co");
    expect((await mint(appA, other.token)).status).toBe(404);
    const minted = await mint(appA);
    expect(minted.status).toBe(201);
    expect(minted.body).toMatchObject({ app_id: appA, url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/portal\/enter\?link=hlp_/) });
    expect(Date.parse(minted.body.expires_at) - Date.now()).toBeLessThanOrEqual(app.config.HOOKLEDGER_PORTAL_LINK_SECONDS * 1000);
    link = minted.body.url;
    const [created] = await ledger("portal.link_created");
    expect(created.data).toMatchObject({ app_id: appA, token_id: tenant.tokenId });
    expect(JSON.stringify(await db.owner`select data from hookledger.ledger where org_id = ${tenant.orgId}`)).not.toContain(new URL(link).searchParams.get("link"));
  });

  it("work once: the first visit opens the application's portal, the second is refused", async () => {
    await page.goto(link);
    expect(page.url()).toBe(url(`/portal/applications/${appA}`));
    expect(await text(page.locator("h1"))).toBe("Billing");
    expect(await text(page.locator("tbody").first())).toContain(receiver.url("/a"));
    const cookie = (await browser.context.cookies()).find((c) => c.name === "hl_portal");
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax", path: "/portal" });
    const [redeemed] = await ledger("portal.link_redeemed");
    const sessions = (await ledger("console.session_started")).filter((entry) => entry.data.surface === "portal");
    expect(sessions).toHaveLength(1);
    expect(sessions[0].data).toMatchObject({ app_id: appA, session_id: redeemed.data.session_id, portal_link_id: redeemed.data.link_id });
    await browser.screenshot(page, "portal-application");

    const second = await app.fetch(new URL(link).pathname + new URL(link).search, { redirect: "manual" });
    expect(second.status).toBe(404);
    expect(await second.text()).toContain("This portal link is not valid");
    expect(second.headers.get("set-cookie")).toBeNull();
    // A portal session is not a console session, whatever cookie name carries it.
    const asConsole = await app.fetch("/console/overview", { headers: { cookie: `hl_console=${cookie?.value}` }, redirect: "manual" });
    expect(asConsole.status).toBe(303);
  });

  it("two concurrent redemptions of a fresh link open exactly one session", async () => {
    const fresh = (await mint(appA)).body.url;
    const path = new URL(fresh).pathname + new URL(fresh).search;
    const answers = await Promise.all([app.fetch(path, { redirect: "manual" }), app.fetch(path, { redirect: "manual" }), app.fetch(path, { redirect: "manual" })]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([303, 404, 404]);
  });
});

describe("portal pages", () => {
  it("show the link's application only: anything of another application, or organization-wide, answers 404", async () => {
    for (const path of [`/portal/applications/${appB}`, "/portal/events/evt_b", `/portal/events?app_id=${appB}`, "/portal/overview", "/portal/applications", "/portal/ingress"]) {
      const response = await page.goto(url(path));
      expect(response?.status(), path).toBe(404);
      expect(await page.content(), path).not.toContain("b-only");
    }
    await page.goto(url("/portal/events"));
    const listed = await text(page.locator("main"));
    expect(listed).toContain("evt_a");
    expect(listed).not.toContain("evt_b");
    const nav = await text(page.getByRole("navigation", { name: "Main" }));
    expect(nav).not.toContain("Overview");
  });

  it("let the customer add an endpoint (secret shown once), send it a test event, and disable it", async () => {
    await page.goto(url(`/portal/applications/${appA}`));
    await page.getByRole("link", { name: "Add endpoint" }).click();
    await page.getByLabel("Endpoint URL").fill("ftp://nope");
    await page.getByRole("button", { name: "Save" }).click();
    expect(await text(page.getByRole("alert"))).toContain("url:");
    await page.getByLabel("Endpoint URL").fill(receiver.url("/customer"));
    await page.getByLabel("Event types").fill("invoice.paid");
    await page.getByRole("button", { name: "Save" }).click();
    expect(await text(page.locator("#new-secret"))).toMatch(/^whsec_/);
    await page.getByRole("link", { name: "Go to the endpoint" }).click();
    await page.getByRole("link", { name: "Send test event" }).click();
    await page.getByRole("button", { name: "Send test event" }).click();
    expect(await text(page.locator("h1"))).toContain("succeeded");
    await receiver.waitFor(1, "/customer");
    await page.getByRole("link", { name: "Back to the subscription" }).click();
    await browser.screenshot(page, "portal-subscription");
    await page.getByRole("link", { name: "Disable" }).click();
    await page.getByRole("button", { name: "Disable" }).click();
    expect(await text(page.getByRole("status"))).toContain("disabled");
    const created = (await ledger("subscription.created")).at(-1);
    expect(created.meta.actor).toMatchObject({ kind: "token", id: tenant.tokenId, label: expect.stringContaining("portal") });
  });
});

describe("portal embedding", () => {
  it("is refused by default: frame-ancestors 'none' and X-Frame-Options DENY", async () => {
    const response = await page.goto(url(`/portal/applications/${appA}`));
    expect(response?.headers()["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(response?.headers()["x-frame-options"]).toBe("DENY");
  });

  it("works in a frame on an allowed origin, and not on any other", async () => {
    const allowedLink = (await mint(appA)).body.url;
    const allowed = await embedder(allowedLink);
    const refusedLink = (await mint(appA)).body.url;
    const refused = await embedder(refusedLink);
    const settings = await app.call("PATCH", "/v1/portal-settings", tenant.token, { allowed_origins: [allowed] });
    expect(settings.body).toEqual({ allowed_origins: [allowed] });
    expect((await app.call("PATCH", "/v1/portal-settings", tenant.token, { allowed_origins: ["https://x.example/path"] })).status).toBe(400);

    const framed = await browser.newPage();
    await framed.goto(allowed);
    const portalFrame = framed.frameLocator("iframe[title=portal]");
    expect(await text(portalFrame.locator("h1"))).toBe("Billing");
    const headers = (await framed.request.get(url(`/portal/applications/${appA}`))).headers();
    expect(headers["content-security-policy"]).toContain(`frame-ancestors ${allowed}`);
    expect(headers["x-frame-options"]).toBeUndefined();
    await browser.screenshot(framed, "portal-embedded");

    await framed.goto(refused);
    await eventually(async () => (framed.frames().length > 1 ? true : undefined), 5_000, "the frame");
    await framed.waitForTimeout(300);
    const inner = framed.frames()[1];
    expect(await inner?.content().catch(() => "")).not.toContain("Billing");
    await framed.close();
  });
});

describe("portal sessions", () => {
  it("open from a link on another site (the tenant's product), over plain HTTP", async () => {
    const minted = await mint(appA);
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(`<!doctype html><title>Tenant product</title><a id="open" href="${minted.body.url}">Open the portal</a>`);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    embedders.push(server);
    await browser.context.clearCookies();
    const visitor = await browser.newPage();
    // localhost and 127.0.0.1 are different sites: the link is followed cross-site, as from a tenant's own domain.
    await visitor.goto(`http://localhost:${(server.address() as AddressInfo).port}/`);
    await Promise.all([visitor.waitForURL(url(`/portal/applications/${appA}`)), visitor.click("#open")]);
    expect(await text(visitor.locator("h1"))).toBe("Billing");
    await visitor.reload();
    expect(await text(visitor.locator("h1"))).toBe("Billing");
    await visitor.close();
  });

  it("ask before a link from another site replaces the one open for another application (login CSRF)", async () => {
    const visitor = await browser.newPage();
    await visitor.goto(url(`/portal/applications/${appA}`));
    expect(await text(visitor.locator("h1"))).toBe("Billing");
    const other = await mint(appB);
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(`<!doctype html><title>Elsewhere</title><a id="open" href="${other.body.url}">Open</a>`);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    embedders.push(server);
    await visitor.goto(`http://localhost:${(server.address() as AddressInfo).port}/`);
    await Promise.all([visitor.waitForURL(/\/portal\/enter\?link=/), visitor.click("#open")]);
    expect(await text(visitor.locator("h1"))).toBe("Open another portal?");
    // Nothing spent, nothing replaced: the session open before still shows its application.
    expect((await ledger("portal.link_redeemed")).filter((entry) => entry.data.link_id === other.body.id)).toHaveLength(0);
    const before = await visitor.context().newPage();
    await before.goto(url(`/portal/applications/${appA}`));
    expect(await text(before.locator("h1"))).toBe("Billing");
    await before.close();
    // The visitor's own click, from our page, opens it.
    await Promise.all([visitor.waitForURL(url(`/portal/applications/${appB}`)), visitor.click("text=Open the other portal")]);
    expect(await text(visitor.locator("h1"))).toBe("Shipping");
    await visitor.close();
  });

  it("end when their application is deleted, as its tokens do", async () => {
    const appC = (await app.call("POST", "/v1/applications", tenant.token, { name: "Returns" })).body.id;
    const minted = await mint(appC);
    const visitor = await browser.newPage();
    await visitor.goto(minted.body.url);
    expect(await text(visitor.locator("h1"))).toBe("Returns");
    expect((await app.call("DELETE", `/v1/applications/${appC}`, tenant.token)).status).toBe(204);
    const after = await visitor.goto(url("/portal/events"));
    expect(after?.status()).toBe(401);
    expect(await text(visitor.locator("h1"))).toBe("This portal session has ended");
    await visitor.close();
  });
});

describe("console projections", () => {
  it.each([
    ["console_sessions", "console_sessions", "session_id"],
    ["portal_links", "portal_links", "link_id"],
    ["portal_settings", "portal_settings", "org_id"],
  ])("rebuilding %s reproduces the live table exactly", async (projection, table, key) => {
    const snapshot = () => db.owner.unsafe(`select * from hookledger.${table} order by org_id, ${key}`);
    const live = await snapshot();
    expect(live.length).toBeGreaterThanOrEqual(1);
    await rebuildProjectionForAll(app.ctx, projection);
    expect(await snapshot()).toEqual(live);
  });
});
