/**
 * Every response carries X-Request-ID, errors included: the id the problem body quotes ("quote the request id
 * when reporting it") must be on the response, whichever layer refused the request — rate limit, body limit and
 * authentication before any route, validation and authorization inside one, no route at all, or a crash.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
let app: TestApp;
let tenant: { orgId: string; token: string };
let reader: string;
let appId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { env: { HOOKLEDGER_MAX_BODY_BYTES: "1024" } });
  tenant = await createTenant(app);
  reader = (await app.call("POST", "/v1/tokens", tenant.token, { label: "reader", scopes: ["events:read"] })).body.token;
  appId = (await app.call("POST", "/v1/applications", tenant.token, { name: "billing" })).body.id;
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

const auth = (token: string) => ({ authorization: `Bearer ${token}` });
const json = { "content-type": "application/json" };

/** The request id the response carries, checked against the one its problem body quotes. */
async function requestIdOf(response: Response, status: number): Promise<string | null> {
  expect(response.status).toBe(status);
  const header = response.headers.get("x-request-id");
  if (response.headers.get("content-type") === "application/problem+json") {
    expect((await response.json()).request_id).toBe(header);
  }
  return header;
}

describe("X-Request-ID on every response", () => {
  const cases: [string, number, () => [string, RequestInit]][] = [
    ["200 success", 200, () => ["/v1/applications", { headers: auth(tenant.token) }]],
    ["400 invalid field", 400, () => ["/v1/applications", { method: "POST", headers: { ...auth(tenant.token), ...json }, body: JSON.stringify({ name: 42 }) }]],
    ["400 malformed JSON", 400, () => ["/v1/applications", { method: "POST", headers: { ...auth(tenant.token), ...json }, body: '{"name":' }]],
    ["401 no token", 401, () => ["/v1/applications", {}]],
    ["401 unknown token", 401, () => ["/v1/applications", { headers: auth("hl_org_not_a_real_token_0123456789") }]],
    ["403 missing scope", 403, () => ["/v1/applications", { headers: auth(reader) }]],
    ["404 no such resource", 404, () => [`/v1/applications/${crypto.randomUUID()}`, { headers: auth(tenant.token) }]],
    ["404 no such route", 404, () => ["/v1/nowhere", { headers: auth(tenant.token) }]],
    ["404 outside /v1", 404, () => ["/favicon.ico", {}]],
    ["404 unknown ingress route", 404, () => ["/in/no-such-route", { method: "POST", headers: json, body: "{}" }]],
    ["413 body too large (before authentication)", 413, () => ["/v1/applications", { method: "POST", headers: json, body: JSON.stringify({ name: "x".repeat(4096) }) }]],
    ["415 unsupported media type", 415, () => ["/v1/applications", { method: "POST", headers: { ...auth(tenant.token), "content-type": "text/plain" }, body: "name=x" }]],
  ];

  it.each(cases)("%s", async (_label, status, request) => {
    const [path, init] = request();
    const generated = await requestIdOf(await app.fetch(path, init), status);
    expect(generated).toMatch(/^req_[0-9a-f]{32}$/);
    const offered = `client-${status}-0001`;
    const echoed = await requestIdOf(await app.fetch(path, { ...init, headers: { ...(init.headers as Record<string, string>), "x-request-id": offered } }), status);
    expect(echoed).toBe(offered);
  });

  it("429 rate limited (before authentication)", async () => {
    const limited = await startTestApp(db, { env: { HOOKLEDGER_RATE_LIMIT_IP_RPS: "1", HOOKLEDGER_RATE_LIMIT_IP_BURST: "1" } });
    try {
      await limited.fetch("/v1/applications");
      const response = await limited.fetch("/v1/applications", { headers: { "x-request-id": "client-429-0001" } });
      expect(await requestIdOf(response, 429)).toBe("client-429-0001");
    } finally {
      await limited.stop();
    }
  });

  // Last in this file: it takes a privilege away from the service role in this test's own database.
  it("500 internal error", async () => {
    await db.owner`revoke select on hookledger.event_types from hookledger_app`;
    const response = await app.fetch(`/v1/applications/${appId}/event-types`, { headers: { ...auth(tenant.token), "x-request-id": "client-500-0001" } });
    expect(await requestIdOf(response, 500)).toBe("client-500-0001");
  });
});
