import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, eventually, startTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
let app: TestApp;
let tenant: { orgId: string; token: string; tokenId: string };

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  tenant = await createTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await db.drop();
});

describe("API tokens", () => {
  it("answers one identical 401 for missing, malformed, unknown, revoked and expired tokens", async () => {
    const revoked = await app.call("POST", "/v1/tokens", tenant.token, { label: "to revoke", scopes: ["events:read"] });
    await app.call("DELETE", `/v1/tokens/${revoked.body.id}`, tenant.token);
    const shortLived = await app.call("POST", "/v1/tokens", tenant.token, {
      label: "short",
      scopes: ["events:read"],
      expires_at: new Date(Date.now() + 1500).toISOString(),
    });
    expect(shortLived.status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 1600));
    const bodies = [];
    for (const auth of [undefined, "Basic abc", "Bearer short", `Bearer hl_org_${"x".repeat(43)}`, `Bearer ${revoked.body.token}`, `Bearer ${shortLived.body.token}`]) {
      const response = await app.fetch("/v1/applications", { headers: auth ? { authorization: auth } : {} });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe('Bearer realm="hookledger"');
      const { request_id: _id, ...body } = await response.json();
      bodies.push(body);
    }
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
  });

  it("shows a token once, stores only its hash, and gives it a scanner-friendly prefix", async () => {
    const created = await app.call("POST", "/v1/tokens", tenant.token, { label: "ci", scopes: ["events:write"] }, { "X-Audit-Reason": "CI pipeline" });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^hl_org_[0-9A-Za-z]{43}$/);
    expect(created.body.prefix).toBe(created.body.token.slice(0, 12));
    const fetched = await app.call("GET", `/v1/tokens/${created.body.id}`, tenant.token);
    expect(fetched.status).toBe(200);
    expect(fetched.body.token).toBeUndefined();
    expect(JSON.stringify(fetched.body)).not.toContain(created.body.token);
    // Nowhere in the database, ledger included, is the token itself.
    const [hits] = await db.owner<{ n: number }[]>`
      select (select count(*) from hookledger.ledger where data::text like ${"%" + created.body.token + "%"} or meta::text like ${"%" + created.body.token + "%"})
           + (select count(*) from hookledger.api_tokens where label like ${"%" + created.body.token + "%"}) as n`;
    expect(Number(hits?.n)).toBe(0);
  });

  it("lets only the instance admin create organizations", async () => {
    const denied = await app.call("POST", "/v1/organizations", tenant.token, { name: "Rogue" });
    expect(denied.status).toBe(403);
    expect(denied.body.type).toBe("urn:hookledger:problem:forbidden");
    const allowed = await app.call("POST", "/v1/organizations", TEST_ADMIN_TOKEN, { name: "Second" });
    expect(allowed.status).toBe(201);
    const list = await app.call("GET", "/v1/organizations", TEST_ADMIN_TOKEN);
    expect(list.body.data.map((o: { id: string }) => o.id)).toEqual(expect.arrayContaining([tenant.orgId, allowed.body.id]));
    const own = await app.call("GET", "/v1/organizations", tenant.token);
    expect(own.body.data.map((o: { id: string }) => o.id)).toEqual([tenant.orgId]);
  });

  it("answers 403 naming the missing scope", async () => {
    const reader = await app.call("POST", "/v1/tokens", tenant.token, { label: "reader", scopes: ["applications:read"] });
    const attempt = await app.call("POST", "/v1/applications", reader.body.token, { name: "nope" });
    expect(attempt.status).toBe(403);
    expect(attempt.body).toMatchObject({ type: "urn:hookledger:problem:forbidden", required_scope: "applications:write" });
    expect((await app.call("GET", "/v1/applications", reader.body.token)).status).toBe(200);
    expect((await app.call("GET", "/v1/tokens", reader.body.token)).status).toBe(403);
  });

  it("confines an application token to its application", async () => {
    const mine = await app.call("POST", "/v1/applications", tenant.token, { name: "mine" });
    const other = await app.call("POST", "/v1/applications", tenant.token, { name: "other" });
    const appToken = await app.call("POST", "/v1/tokens", tenant.token, { label: "app", scopes: ["admin"], app_id: mine.body.id });
    expect(appToken.body.token).toMatch(/^hl_app_/);
    expect((await app.call("GET", `/v1/applications/${mine.body.id}`, appToken.body.token)).status).toBe(200);
    expect((await app.call("GET", `/v1/applications/${other.body.id}`, appToken.body.token)).status).toBe(404);
    const list = await app.call("GET", "/v1/applications", appToken.body.token);
    expect(list.body.data.map((a: { id: string }) => a.id)).toEqual([mine.body.id]);
    expect((await app.call("POST", "/v1/tokens", appToken.body.token, { label: "x", scopes: ["admin"] })).status).toBe(403);
  });

  it("refuses bad token requests field by field", async () => {
    const bad = await app.call("POST", "/v1/tokens", tenant.token, { label: "", scopes: ["root"], expires_at: "tomorrow", extra: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(["expires_at", "extra", "label", "scopes.0"]);
    const past = await app.call("POST", "/v1/tokens", tenant.token, { label: "old", scopes: ["admin"], expires_at: "2001-01-01T00:00:00Z" });
    expect(past.body.errors).toEqual([{ field: "expires_at", message: "must be in the future" }]);
    const ghostApp = await app.call("POST", "/v1/tokens", tenant.token, { label: "ghost", scopes: ["admin"], app_id: "00000000-0000-4000-8000-000000000000" });
    expect(ghostApp.body.errors).toEqual([{ field: "app_id", message: "no such application" }]);
  });

  it("records last use without a write per request", async () => {
    const used = await app.call("POST", "/v1/tokens", tenant.token, { label: "used", scopes: ["applications:read"] });
    expect((await app.call("GET", `/v1/tokens/${used.body.id}`, tenant.token)).body.last_used_at).toBeNull();
    for (let i = 0; i < 5; i++) await app.call("GET", "/v1/applications", used.body.token);
    const [before] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.token_usage where token_id = ${used.body.id}`;
    expect(before?.n).toBe(0); // still in memory
    await eventually(async () => ((await app.call("GET", `/v1/tokens/${used.body.id}`, tenant.token)).body.last_used_at ? true : undefined), 10_000, "last_used_at");
  });

  it("deleting an application revokes its tokens; deleting an organization revokes all", async () => {
    const doomed = await app.call("POST", "/v1/applications", tenant.token, { name: "doomed" });
    const appToken = await app.call("POST", "/v1/tokens", tenant.token, { label: "doomed app", scopes: ["admin"], app_id: doomed.body.id });
    expect((await app.call("DELETE", `/v1/applications/${doomed.body.id}`, tenant.token)).status).toBe(204);
    expect((await app.call("GET", `/v1/applications/${doomed.body.id}`, tenant.token)).status).toBe(404);
    expect((await app.call("GET", "/v1/applications", appToken.body.token)).status).toBe(401);

    const other = await createTenant(app, "Doomed Org");
    expect((await app.call("DELETE", `/v1/organizations/${other.orgId}`, other.token)).status).toBe(403);
    expect((await app.call("DELETE", `/v1/organizations/${other.orgId}`, TEST_ADMIN_TOKEN)).status).toBe(204);
    expect((await app.call("GET", "/v1/applications", other.token)).status).toBe(401);
    expect((await app.call("GET", `/v1/organizations/${other.orgId}`, TEST_ADMIN_TOKEN)).status).toBe(404);
  });
});
