/**
 * The web console in a real browser (Debian's chromium through playwright-core) against the real service, worker
 * and Postgres: sign-in, finding a failed delivery through the filters, its attempts, retrying it until it
 * succeeds against a loopback receiver, escaping of tenant content, CSRF, an application token's limits,
 * sign-out and expiry as ledger entries. One browser for the file; its pages are reused.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Locator, Page } from "playwright-core";
import { createTenant, eventually, startTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../support/app.ts";
import { launchBrowser, type TestBrowser } from "../support/browser.ts";
import { expireOverdueSessions } from "../../src/console/expireSessionsTask.ts";
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
let subscriptionId: string;
let clockOffsetMs = 0;
const HOSTILE = `<script>window.__pwned = true</script><img src=x onerror="window.__pwned = true">`;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true, now: () => new Date(Date.now() + clockOffsetMs) });
  receiver = await startReceiver();
  // The first attempt fails with a body that tries to inject markup; the retry succeeds.
  receiver.respond("/hook", { status: 500, body: `upstream failed ${HOSTILE}`, headers: { "x-trace": "<i>header</i>" } }, { status: 200, body: "ok" });
  tenant = await createTenant(app, "Console Co");
  appA = (await app.call("POST", "/v1/applications", tenant.token, { name: "Billing" })).body.id;
  appB = (await app.call("POST", "/v1/applications", tenant.token, { name: "Shipping" })).body.id;
  for (const appId of [appA, appB]) await app.call("POST", `/v1/applications/${appId}/event-types`, tenant.token, { name: "invoice.paid" });
  const subscription = await app.call("POST", "/v1/subscriptions", tenant.token, { app_id: appA, url: receiver.url("/hook"), event_types: ["invoice.paid"], max_attempts: 1, channels: ["billing", "refunds"] });
  subscriptionId = subscription.body.id;
  await app.call("POST", "/v1/events", tenant.token, { app_id: appA, event_type: "invoice.paid", event_id: "evt_hostile", payload: { note: HOSTILE, amount: 42 }, labels: { region: "eu" }, channels: ["billing"] });
  await app.call("POST", "/v1/events", tenant.token, { app_id: appB, event_type: "invoice.paid", event_id: "evt_shipping", payload: { secret_of_b: true } });
  await eventually(async () => ((await app.call("GET", "/v1/events/evt_hostile", tenant.token)).body.deliveries?.[0]?.status === "failed" ? true : undefined), 20_000, "the first delivery to fail");
  browser = await launchBrowser();
  page = await browser.newPage();
});

afterAll(async () => {
  await browser?.close();
  await receiver?.close();
  await app?.stop();
  await db?.drop();
});

/** The text of the first element a locator finds, once it is there. */
const text = (locator: Locator) => locator.first().innerText();
const url = (path: string) => `${app.baseUrl}${path}`;
const ledger = (type: string) => db.owner<any[]>`select data, meta from hookledger.ledger where org_id = ${tenant.orgId} and type = ${type} order by position`;

async function signIn(token: string): Promise<void> {
  await page.goto(url("/console"));
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
}

describe("console", () => {
  it("sends a visitor to sign in, refuses a wrong token, and exchanges a right one for an HttpOnly, SameSite=Strict session", async () => {
    await page.goto(url("/console/events"));
    expect(new URL(page.url()).pathname).toBe("/console/sign-in");
    await signIn("hl_org_not_a_real_token_0000000000000000");
    expect(await text(page.getByRole("alert"))).toContain("not valid");
    await signIn(tenant.token);
    await page.waitForURL(url("/console/overview"));
    await (page.getByRole("heading", { name: "Overview" })).waitFor();
    const cookies = await browser.context.cookies();
    const session = cookies.find((cookie) => cookie.name === "hl_console");
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/console", secure: false });
    expect(session?.value).not.toContain(tenant.token);
    expect(JSON.stringify(cookies)).not.toContain(tenant.token);
    const [started] = await ledger("console.session_started");
    expect(started.data).toMatchObject({ surface: "console", token_id: tenant.tokenId, app_id: null });
    expect(started.meta.actor).toMatchObject({ kind: "token", id: tenant.tokenId });
    await browser.screenshot(page, "console-overview");
  });

  it("serves pages with a nonce-based CSP, no framing, and no inline script that lacks the nonce", async () => {
    const response = await page.goto(url("/console/overview"));
    const csp = response?.headers()["content-security-policy"] ?? "";
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(response?.headers()["x-frame-options"]).toBe("DENY");
    const scripts = await page.$$eval("script", (elements) => elements.map((element) => element.nonce));
    expect(scripts.every((value) => value === nonce)).toBe(true);
    // The chart is SVG drawn on the server, with a text alternative.
    expect(await page.locator("svg.chart").getAttribute("aria-label")).toMatch(/Delivery attempts per minute.*1 failed/);
  });

  it("opens an event by its id", async () => {
    await page.goto(url("/console/events"));
    await page.getByLabel("Event id").fill("evt_hostile");
    await page.getByRole("button", { name: "Open" }).click();
    await page.waitForURL(url("/console/events/evt_hostile"));
    expect(await page.goto(url("/console/events?event_id=evt_nope")).then((response) => response?.status())).toBe(404);
  });

  it("finds the failed delivery through the filters, shows its attempts, and renders hostile content as text", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Events" }).click();
    await page.getByLabel("Delivery status").selectOption("failed");
    await page.getByLabel("Label").fill("region:eu");
    await page.getByRole("button", { name: "Apply" }).click();
    const rows = page.locator("tbody tr");
    expect(await rows.count()).toBe(1);
    expect(await text(rows.first())).toContain("1 failed");
    await browser.screenshot(page, "console-events");
    await page.getByRole("link", { name: "evt_hostile" }).click();
    expect(await text(page.getByLabel("Payload"))).toContain("<script>window.__pwned = true</script>");
    await browser.screenshot(page, "console-event");
    await page.getByRole("link", { name: receiver.url("/hook") }).click();
    const attempt = page.locator(".timeline > li").first();
    expect(await text(attempt)).toContain("Attempt 1");
    expect(await text(attempt)).toContain("HTTP 500");
    expect(await text(attempt)).toContain("failed");
    expect(await text(attempt.getByLabel("Response body excerpt"))).toContain(`upstream failed ${HOSTILE}`);
    await attempt.locator("summary", { hasText: "Response headers" }).click();
    expect(await attempt.locator("td", { hasText: "<i>header</i>" }).count()).toBe(1);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: boolean }).__pwned)).toBeUndefined();
    expect(await page.locator("body script:not([nonce]), body img[src=x], i").count()).toBe(0);
    await browser.screenshot(page, "console-delivery");
  });

  it("shows an event's channels and a subscription's", async () => {
    // The next test goes on from the delivery page the one before left open.
    const deliveryPage = page.url();
    await page.goto(url("/console/events/evt_hostile"));
    expect(await text(page.locator("dl.facts"))).toMatch(/Channels\s+billing/);
    await page.goto(url(`/console/subscriptions/${subscriptionId}`));
    expect(await text(page.locator("dl.facts"))).toMatch(/Channels\s+billing, refunds/);
    await page.goto(deliveryPage);
  });

  it("retries the delivery after a confirmation with a reason, and it succeeds against the receiver", async () => {
    const deliveryPath = new URL(page.url()).pathname;
    await page.getByRole("link", { name: "Retry now" }).click();
    await (page.getByRole("heading", { name: "Retry delivery" })).waitFor();
    await page.getByLabel("Reason (kept in the audit log)").fill("receiver fixed, ticket OPS-7");
    await page.getByRole("button", { name: "Retry now" }).click();
    expect(await text(page.getByRole("status"))).toContain("queued for another attempt");
    await receiver.waitFor(2, "/hook");
    await eventually(async () => {
      await page.goto(url(deliveryPath));
      return (await page.locator("h1").textContent())?.includes("succeeded") ? true : undefined;
    }, 15_000, "the retried delivery to succeed");
    expect(await text(page.locator(".timeline > li").first())).toContain("HTTP 200");
    const [retry] = await ledger("delivery.retry_requested");
    expect(retry.meta).toMatchObject({ reason: "receiver fixed, ticket OPS-7", actor: { kind: "token", id: tenant.tokenId } });
  });

  it("refuses a form post without the session's CSRF token, and one with a wrong token, doing nothing", async () => {
    const before = await db.owner`select count(*)::int as n from hookledger.ledger where org_id = ${tenant.orgId}`;
    const post = (form: Record<string, string>) => page.request.post(url(`/console/subscriptions/${subscriptionId}/disable`), { form, maxRedirects: 0 });
    const missing = await post({ reason: "no token" });
    expect(missing.status()).toBe(403);
    expect(await missing.text()).toContain("form was refused");
    expect((await post({ reason: "forged", csrf: "forged-token" })).status()).toBe(403);
    const after = await db.owner`select count(*)::int as n from hookledger.ledger where org_id = ${tenant.orgId}`;
    expect(after).toEqual(before);
    expect((await app.call("GET", `/v1/subscriptions/${subscriptionId}`, tenant.token)).body.enabled).toBe(true);
  });

  it("shows applications, a subscription's health and actions, keyboard first and labelled, at 360 px without sideways scrolling", async () => {
    await page.goto(url(`/console/applications/${appA}`));
    expect(await text(page.locator("tbody").first())).toContain(receiver.url("/hook"));
    await page.getByRole("link", { name: receiver.url("/hook") }).click();
    await (page.getByRole("link", { name: "Rotate secret" })).waitFor();
    await browser.screenshot(page, "console-subscription");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
    const unlabelled = await page.$$eval("input:not([type=hidden]), select, textarea", (fields) =>
      fields.filter((field) => (field as HTMLInputElement).labels?.length === 0 && !field.getAttribute("aria-label")).map((field) => field.outerHTML),
    );
    expect(unlabelled).toEqual([]);
    const narrow = await browser.newPage({ width: 360, height: 740 });
    for (const [name, path] of [["overview", "/console/overview"], ["events", "/console/events"], ["subscription", `/console/subscriptions/${subscriptionId}`]] as const) {
      await narrow.goto(url(path));
      await browser.screenshot(narrow, `console-${name}-360px`);
      const widest = await narrow.evaluate(() =>
        [...document.querySelectorAll("body *")].filter((element) => element.getBoundingClientRect().right > 361 && !element.closest(".scroll")).map((element) => element.tagName + "." + element.className).slice(0, 5),
      );
      expect(widest, path).toEqual([]);
      expect(await narrow.evaluate(() => document.documentElement.scrollWidth), path).toBeLessThanOrEqual(360);
    }
    await narrow.close();
  });

  it("rotates a secret after confirmation and shows the new one once", async () => {
    await page.goto(url(`/console/subscriptions/${subscriptionId}/rotate-secret`));
    await page.getByLabel("Reason (kept in the audit log)").fill("suspected leak");
    await page.getByRole("button", { name: "Rotate secret" }).click();
    const secret = await page.locator("#new-secret").textContent();
    expect(secret).toMatch(/^whsec_/);
    const [rotated] = await ledger("subscription.secret_rotated");
    expect(rotated.meta.reason).toBe("suspected leak");
    expect(JSON.stringify(rotated)).not.toContain(secret);
  });

  it("signs out (a ledger entry), after which the session cookie opens nothing", async () => {
    const cookie = (await browser.context.cookies()).find((c) => c.name === "hl_console")?.value;
    await page.goto(url("/console/overview"));
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(url("/console/sign-in"));
    const [ended] = await ledger("console.session_ended");
    expect(ended.data.reason).toBe("signed_out");
    const replayed = await app.fetch("/console/overview", { headers: { cookie: `hl_console=${cookie}` }, redirect: "manual" });
    expect(replayed.status).toBe(303);
    expect(replayed.headers.get("location")).toBe("/console/sign-in");
  });

  it("an application token sees its application only: another application's pages answer 404", async () => {
    const token = await app.call("POST", "/v1/tokens", tenant.token, { label: "billing reader", scopes: ["admin"], app_id: appA });
    await signIn(token.body.token);
    await page.waitForURL(url("/console/overview"));
    await page.goto(url("/console/applications"));
    expect(await text(page.locator("tbody"))).toContain("Billing");
    expect(await text(page.locator("tbody"))).not.toContain("Shipping");
    for (const path of [`/console/applications/${appB}`, "/console/events/evt_shipping", `/console/events?app_id=${appB}`]) {
      const response = await page.goto(url(path));
      expect(response?.status(), path).toBe(404);
      expect(await text(page.locator("body"))).not.toContain("secret_of_b");
    }
    await page.goto(url("/console/events"));
    expect(await text(page.locator("tbody"))).not.toContain("evt_shipping");
  });

  it("revoking the token ends its sessions' access at once", async () => {
    const tokens = await app.call("GET", "/v1/tokens", tenant.token);
    const reader = tokens.body.data.find((t: any) => t.label === "billing reader");
    await app.call("DELETE", `/v1/tokens/${reader.id}`, tenant.token);
    await page.goto(url("/console/events"));
    expect(new URL(page.url()).pathname).toBe("/console/sign-in");
  });

  it("an expired session sends the user to sign in and is recorded as expired", async () => {
    await signIn(tenant.token);
    await page.waitForURL(url("/console/overview"));
    clockOffsetMs = (app.config.HOOKLEDGER_CONSOLE_SESSION_MINUTES + 1) * 60_000;
    try {
      await page.goto(url("/console/overview"));
      expect(page.url()).toBe(url("/console/sign-in?expired=1"));
      expect(await text(page.getByRole("alert"))).toContain("expired");
    } finally {
      clockOffsetMs = 0;
    }
    const reasons = (await ledger("console.session_ended")).map((entry) => entry.data.reason);
    expect(reasons).toContain("expired");
  });

  it("records the expiry of a session nobody presents again (the worker's sweep)", async () => {
    await signIn(tenant.token);
    await page.waitForURL(url("/console/overview"));
    const [open] = await db.owner<{ session_id: string }[]>`select session_id from hookledger.console_sessions where org_id = ${tenant.orgId} and ended_at is null order by started_at desc limit 1`;
    expect(await expireOverdueSessions(app.ctx)).toBe(0);
    clockOffsetMs = (app.config.HOOKLEDGER_CONSOLE_SESSION_MINUTES + 1) * 60_000;
    try {
      expect(await expireOverdueSessions(app.ctx)).toBeGreaterThanOrEqual(1);
    } finally {
      clockOffsetMs = 0;
    }
    const ended = (await ledger("console.session_ended")).filter((entry) => entry.data.session_id === open?.session_id);
    expect(ended.map((entry) => entry.data.reason)).toEqual(["expired"]);
    expect(ended[0].meta.actor).toEqual({ kind: "system" });
    // Presented after the sweep ended it, the session reads as expired, as one presented past its expiry does.
    await page.goto(url("/console/overview"));
    expect(page.url()).toBe(url("/console/sign-in?expired=1"));
    expect(await text(page.getByRole("alert"))).toContain("expired");
  });

  it("takes the instance admin token from a first start to a new organization's console", async () => {
    await signIn(TEST_ADMIN_TOKEN);
    await page.waitForURL(url("/console/organizations"));
    await page.getByLabel("New organization").fill("Fresh <b>Org</b>");
    await page.getByRole("button", { name: "Create organization" }).click();
    const token = await text(page.locator("#new-token"));
    expect(token).toMatch(/^hl_org_/);
    expect(await text(page.locator("h1"))).toBe("Organization Fresh <b>Org</b> created");
    await page.getByRole("button", { name: /Continue as/ }).click();
    await page.waitForURL(url("/console/overview"));
    expect(await text(page.locator(".who"))).toContain("Fresh <b>Org</b> admin (console)");
    expect((await app.call("GET", "/v1/applications", token)).status).toBe(200);
  });
});
