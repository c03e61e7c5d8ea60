/**
 * The console's forms and query strings follow the API's input rules: a NUL, or percent-encoded bytes that are not
 * UTF-8, in any field is a 400 page naming the field and saying why, never a 5xx, and nothing is written. Plain
 * HTTP with a signed-in session (no browser needed).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, startTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../support/app.ts";
import { consoleSession, type ConsoleSession } from "../support/consoleSession.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
let app: TestApp;
let admin: ConsoleSession;
let tenant: ConsoleSession;
let orgId: string;
let appId: string;
let subscriptionId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  const org = await createTenant(app, "Forms Co");
  orgId = org.orgId;
  appId = (await app.call("POST", "/v1/applications", org.token, { name: "Billing" })).body.id;
  await app.call("POST", `/v1/applications/${appId}/event-types`, org.token, { name: "invoice.paid" });
  subscriptionId = (await app.call("POST", "/v1/subscriptions", org.token, { app_id: appId, url: "http://127.0.0.1:9/hook", event_types: ["*"], description: "before" })).body.id;
  admin = await consoleSession(app, TEST_ADMIN_TOKEN);
  tenant = await consoleSession(app, org.token);
});

afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

const ledgerSize = async () => (await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger`)[0]?.n;

const NUL = { encoded: "a%00b", why: "contains the NUL character (U+0000)" };
const NOT_UTF8 = { encoded: "a%FFb", why: "is not valid UTF-8" };

/** Posts a form with one hostile field; expects the 400 page naming it and an unchanged ledger. */
async function expectRefused(session: ConsoleSession, path: string, field: string, rest: string): Promise<void> {
  for (const hostile of [NUL, NOT_UTF8]) {
    const before = await ledgerSize();
    const response = await session.post(path, [`${field}=${hostile.encoded}`, rest].filter(Boolean).join("&"));
    const html = await response.text();
    expect(response.status, `${field}=${hostile.encoded}`).toBe(400);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    expect(html).toContain(`<span class="mono">${field}</span>: ${hostile.why}`);
    expect(await ledgerSize()).toBe(before);
  }
}

describe("console forms under the input rules", () => {
  it("answers a form over its 64 KB limit with a page (413), not the API's JSON, writing nothing", async () => {
    const before = await ledgerSize();
    const response = await tenant.post(`/console/applications/${appId}`, `description=${"x".repeat(70 * 1024)}`);
    expect(response.status).toBe(413);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await response.text()).toContain("Too large");
    expect(await ledgerSize()).toBe(before);
  });

  it("refuses an organization name or reason holding NUL or bytes that are not UTF-8 (instance admin)", async () => {
    const organizations = await db.owner`select count(*)::int as n from hookledger.organizations`;
    await expectRefused(admin, "/console/organizations", "name", "reason=setup");
    await expectRefused(admin, "/console/organizations", "reason", "name=Acme");
    expect(await db.owner`select count(*)::int as n from hookledger.organizations`).toEqual(organizations);
  });

  it("refuses an endpoint's description when adding or editing a subscription, saving nothing", async () => {
    await expectRefused(tenant, `/console/applications/${appId}/new-subscription`, "description", "url=http%3A%2F%2F127.0.0.1%3A9%2Fnew&event_types=*");
    await expectRefused(tenant, `/console/subscriptions/${subscriptionId}/edit`, "description", "url=http%3A%2F%2F127.0.0.1%3A9%2Fhook&event_types=*");
    const [row] = await db.owner<{ n: number; description: string }[]>`
      select count(*) over ()::int as n, description from hookledger.subscriptions where org_id = ${orgId}`;
    expect(row).toEqual({ n: 1, description: "before" });
  });

  it("refuses an action's reason, and leaves the subscription as it was", async () => {
    await expectRefused(tenant, `/console/subscriptions/${subscriptionId}/disable`, "reason", "");
    const [row] = await db.owner<{ enabled: boolean }[]>`select enabled from hookledger.subscriptions where subscription_id = ${subscriptionId}`;
    expect(row?.enabled).toBe(true);
  });

  it("refuses a reason that would change how the audit log reads (ESC, C1 controls, bidirectional overrides), keeps line breaks", async () => {
    for (const [encoded, code] of [["a%1B%5B2Jb", "001B"], ["a%C2%9Bb", "009B"], ["fixed%E2%80%AEdecnarc", "202E"]] as const) {
      for (const path of [`/console/subscriptions/${subscriptionId}/disable`, `/console/subscriptions/${subscriptionId}/edit`]) {
        const before = await ledgerSize();
        const rest = path.endsWith("/edit") ? "&url=http%3A%2F%2F127.0.0.1%3A9%2Fhook&event_types=*" : "";
        const response = await tenant.post(path, `reason=${encoded}${rest}`);
        expect(response.status, `${path} reason=${encoded}`).toBe(400);
        expect(await response.text()).toContain(`<span class="mono">reason</span>: contains U+${code}`);
        expect(await ledgerSize()).toBe(before);
      }
    }
    const [row] = await db.owner<{ enabled: boolean }[]>`select enabled from hookledger.subscriptions where subscription_id = ${subscriptionId}`;
    expect(row?.enabled).toBe(true);
    // A reason on two lines, as a textarea gives it, is recorded as written.
    expect((await tenant.post(`/console/subscriptions/${subscriptionId}/disable`, "reason=receiver%0D%0Adown")).status).toBeLessThan(400);
    const [entry] = await db.owner<{ reason: string }[]>`
      select meta->>'reason' as reason from hookledger.ledger where stream = ${`subscription:${subscriptionId}`} order by position desc limit 1`;
    expect(entry?.reason).toBe("receiver\r\ndown");
    await tenant.post(`/console/subscriptions/${subscriptionId}/enable`, "reason=back");
  });

  it("checks the CSRF token first: a forged form is refused as forged whatever it holds", async () => {
    // The helper sends the session's token first; a later field of the same name wins.
    const response = await tenant.post(`/console/subscriptions/${subscriptionId}/disable`, "reason=a%00b&csrf=forged");
    expect(response.status).toBe(403);
    expect(await response.text()).toContain("form was refused");
  });

  it("cuts a long reason to 1000 characters between characters, never inside one", async () => {
    const reason = `x${"\u{1F600}".repeat(600)}`;
    const response = await tenant.post(`/console/subscriptions/${subscriptionId}/disable`, `reason=${encodeURIComponent(reason)}`);
    expect(response.status).toBe(303);
    const [entry] = await db.owner<{ reason: string }[]>`
      select meta->>'reason' as reason from hookledger.ledger where org_id = ${orgId} and type = 'subscription.disabled' order by position desc limit 1`;
    expect(entry?.reason).toBe(reason.slice(0, 999));
  });

  it("refuses query values holding NUL on console pages, naming the parameter", async () => {
    for (const [path, field] of [["/console/queues?queue=a%00b", "query.queue"], ["/console/events?label=region:a%00b", "query.label"]] as const) {
      const response = await tenant.get(path);
      expect(response.status, path).toBe(400);
      expect(await response.text()).toContain(`<span class="mono">${field}</span>: ${NUL.why}`);
    }
  });
});
