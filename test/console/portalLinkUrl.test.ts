/**
 * A portal link's URL is built on HOOKLEDGER_PUBLIC_URL when it is set, whatever `Host` the minting request names
 * (it was always the request's own origin: `Host: evil.example.com` pointed the single-use link at that host); without
 * the setting it stays the request's origin.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
let configured: TestApp;
let plain: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  configured = await startTestApp(db, { env: { HOOKLEDGER_PUBLIC_URL: "https://hooks.example.com/webhooks/" } });
  plain = await startTestApp(db);
});

afterAll(async () => {
  await configured?.stop();
  await plain?.stop();
  await db?.drop();
});

/** POST with a Host header of our choosing (fetch would not send one other than the URL's). */
function mintWithHost(app: TestApp, token: string, appId: string, host: string): Promise<{ status: number; body: { url?: string } }> {
  const { hostname, port } = new URL(app.baseUrl);
  return new Promise((resolve, reject) => {
    const sent = request(
      { hostname, port, method: "POST", path: `/v1/applications/${appId}/portal-links`, headers: { host, authorization: `Bearer ${token}`, "content-length": 0 } },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (text += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as { url?: string } }));
      },
    );
    sent.on("error", reject);
    sent.end();
  });
}

describe("portal link URLs", () => {
  it("are built on HOOKLEDGER_PUBLIC_URL, whatever Host the request names", async () => {
    const tenant = await createTenant(configured, "Links Co");
    const appId = (await configured.call("POST", "/v1/applications", tenant.token, { name: "Billing" })).body.id;
    for (const host of ["evil.example.com", new URL(configured.baseUrl).host]) {
      const minted = await mintWithHost(configured, tenant.token, appId, host);
      expect(minted.status).toBe(201);
      expect(minted.body.url).toMatch(/^https:\/\/hooks\.example\.com\/webhooks\/portal\/enter\?link=hlp_[0-9A-Za-z_-]+$/);
    }
  });

  it("are built on the request's origin without it", async () => {
    const tenant = await createTenant(plain, "Plain Co");
    const appId = (await plain.call("POST", "/v1/applications", tenant.token, { name: "Billing" })).body.id;
    const minted = await plain.call("POST", `/v1/applications/${appId}/portal-links`, tenant.token);
    expect(minted.status).toBe(201);
    expect(minted.body.url).toMatch(new RegExp(`^${plain.baseUrl}/portal/enter\\?link=hlp_`));
  });
});
