/**
 * The doors served before any session — `GET /portal/enter?link=…` and the console's sign-in — answer methods they
 * do not serve 405 with `Allow`, like every other path, instead of falling through to the session check (a 401
 * "session ended" page, a 303 to sign-in); a portal link sent with another method is not read, so it stays unspent.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
let app: TestApp;
let tenant: { orgId: string; token: string; tokenId: string };
let appId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  tenant = await createTenant(app, "Doors Co");
  appId = (await app.call("POST", "/v1/applications", tenant.token, { name: "Billing" })).body.id;
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

/**
 * One request with any method, TRACE included (fetch refuses to send TRACE): status, headers and body text. A
 * body is sent only where given, so a TRACE stays body-less as RFC 9110 asks.
 */
function send(method: string, path: string, body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(`${app.baseUrl}${path}`, { method, headers: body === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" } }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, text: Buffer.concat(chunks).toString("utf8") }));
      response.on("error", reject);
    });
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

const redemptions = async () =>
  (await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger where org_id = ${tenant.orgId} and type = 'portal.link_redeemed'`)[0]?.n ?? 0;

/** Expects the 405 problem every path answers for a method it does not serve. */
function expectMethodNotAllowed(answer: Awaited<ReturnType<typeof send>>, method: string, allow: string): void {
  expect(answer.status, method).toBe(405);
  expect(answer.headers.allow, method).toBe(allow);
  expect(answer.headers["content-type"], method).toBe("application/problem+json");
  expect(JSON.parse(answer.text), method).toMatchObject({ type: "urn:hookledger:problem:method-not-allowed", detail: `${method} is not served here; use ${allow}`, allow: allow.split(", ") });
}

describe("/portal/enter", () => {
  it("answers other methods 405 with Allow: GET, and leaves the link unspent", async () => {
    const minted = await app.call("POST", `/v1/applications/${appId}/portal-links`, tenant.token);
    expect(minted.status).toBe(201);
    const link = new URL(minted.body.url);
    const path = link.pathname + link.search;
    for (const method of ["PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "POST"]) {
      expectMethodNotAllowed(await send(method, path, method === "PUT" || method === "POST" ? "x=1" : undefined), method, "GET");
    }
    expectMethodNotAllowed(await send("DELETE", "/portal/enter"), "DELETE", "GET");
    expect(await redemptions()).toBe(0);

    // The link still works, once.
    const entered = await send("GET", path);
    expect(entered.status).toBe(303);
    expect(entered.headers.location).toBe(`/portal/applications/${appId}`);
    expect(await redemptions()).toBe(1);
    expect((await send("GET", path)).status).toBe(404);
  });

  it("leaves the portal's session-bound paths to the session check", async () => {
    const page = await send("GET", `/portal/applications/${appId}`);
    expect(page.status).toBe(401);
    expect(page.text).toContain("This portal session has ended");
  });
});

describe("/console/sign-in", () => {
  it("answers other methods 405 with Allow: GET, POST, and still serves its form", async () => {
    for (const method of ["PUT", "DELETE", "OPTIONS", "TRACE", "PATCH"]) expectMethodNotAllowed(await send(method, "/console/sign-in"), method, "GET, POST");
    const form = await send("GET", "/console/sign-in");
    expect(form.status).toBe(200);
    expect(form.text).toContain("Sign in to hookledger");
    // A page that needs a session still sends a visitor to sign in, whatever the method.
    const other = await send("PUT", "/console/overview");
    expect(other.status).toBe(303);
    expect(other.headers.location).toBe("/console/sign-in");
  });
});
