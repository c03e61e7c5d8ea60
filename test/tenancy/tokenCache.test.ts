/**
 * Authentication is cached per API process; a revocation must still take effect on every process within about a
 * second (the trigger's NOTIFY), not after the cache's TTL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
let first: TestApp;
let second: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  first = await startTestApp(db);
  second = await startTestApp(db);
});
afterAll(async () => {
  await first?.stop();
  await second?.stop();
  await db.drop();
});

describe("token cache", () => {
  it("stops accepting a token revoked on another process within a second", async () => {
    const tenant = await createTenant(first);
    const made = await first.call("POST", "/v1/tokens", tenant.token, { label: "short-lived", scopes: ["applications:read"] });
    expect(made.status).toBe(201);
    // Used on the second process, so it sits in that process's cache.
    for (let i = 0; i < 3; i++) expect((await second.call("GET", "/v1/applications", made.body.token)).status).toBe(200);

    expect((await first.call("DELETE", `/v1/tokens/${made.body.id}`, tenant.token)).status).toBe(200);
    const revokedAt = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - revokedAt < 1000) {
      status = (await second.call("GET", "/v1/applications", made.body.token)).status;
      if (status === 200) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(status).toBe(401);
  });

  it("accepts a token created a moment ago on another process (unknown tokens are never cached)", async () => {
    const tenant = await createTenant(first, "Fresh");
    const unknown = "hl_org_this_token_does_not_exist_yet_0123456789";
    expect((await second.call("GET", "/v1/applications", unknown)).status).toBe(401);
    const made = await first.call("POST", "/v1/tokens", tenant.token, { label: "new", scopes: ["applications:read"] });
    expect((await second.call("GET", "/v1/applications", made.body.token)).status).toBe(200);
  });
});
