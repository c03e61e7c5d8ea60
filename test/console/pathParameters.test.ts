/**
 * What a console page puts in its forms and links is what it loaded, never the path's text: "Add endpoint" for an
 * application id spelled `../subscriptions/<id>/rotate-secret?` once rendered a form posting (with the session's
 * CSRF token) to the rotate-secret action. And the rotate form's overlap is decimal digits only: a missing or empty
 * field was read as 0 hours, cutting the old secret off at once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, startTestApp, type TestApp } from "../support/app.ts";
import { consoleSession, type ConsoleSession } from "../support/consoleSession.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
let app: TestApp;
let tenant: ConsoleSession;
let orgId: string;
let appId: string;
let subscriptionId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  const org = await createTenant(app, "Paths Co");
  orgId = org.orgId;
  appId = (await app.call("POST", "/v1/applications", org.token, { name: "Billing" })).body.id;
  subscriptionId = (await app.call("POST", "/v1/subscriptions", org.token, { app_id: appId, url: "http://127.0.0.1:9/hook", event_types: ["*"] })).body.id;
  tenant = await consoleSession(app, org.token);
});

afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

const rotations = async () =>
  (await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger where org_id = ${orgId} and type = 'subscription.secret_rotated'`)[0]?.n;

describe("console path parameters", () => {
  it("renders the Add endpoint form for the stored application id only", async () => {
    const page = await tenant.get(`/console/applications/${appId}/new-subscription`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`<form method="post" action="/console/applications/${appId}/new-subscription"`);

    for (const spelled of [
      `..%2Fsubscriptions%2F${subscriptionId}%2Frotate-secret%3F`,
      `..%2Fsubscriptions%2F${subscriptionId}%2Fdisable%3F`,
      `${appId}%3Fx`,
      "not-a-uuid",
      "00000000-0000-4000-8000-000000000000",
    ]) {
      const answer = await tenant.get(`/console/applications/${spelled}/new-subscription`);
      expect(answer.status, spelled).toBe(404);
      expect(await answer.text(), spelled).not.toContain("rotate-secret");
      const posted = await tenant.post(`/console/applications/${spelled}/new-subscription`, "url=http%3A%2F%2F127.0.0.1%3A9%2Fx&event_types=*");
      expect(posted.status, spelled).toBe(404);
    }
  });

  it("refuses a rotate form whose overlap is missing, empty or not decimal digits, rotating nothing", async () => {
    const before = await rotations();
    for (const overlap of [undefined, "", "%20", "0x10", "1e2", "-1", "721", "1.5"]) {
      const answer = await tenant.post(`/console/subscriptions/${subscriptionId}/rotate-secret`, overlap === undefined ? "reason=x" : `overlap_hours=${overlap}`);
      expect(answer.status, String(overlap)).toBe(400);
      expect(await answer.text(), String(overlap)).toContain("a whole number of hours from 0 to 720");
    }
    expect(await rotations()).toBe(before);
    const rotated = await tenant.post(`/console/subscriptions/${subscriptionId}/rotate-secret`, "overlap_hours=24");
    expect(rotated.status).toBe(200);
    expect(await rotations()).toBe((before ?? 0) + 1);
  });
});
