/**
 * Routes that take no query parameters refuse any (400 naming it), and the query-string input rules hold on them
 * as on list routes: `GET /v1/usage?x=%FF` and `GET /v1/events/{id}?limit=1&limit=2` were answered 200.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { outboundTenant } from "../outbound/setup.ts";

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof outboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  t = await outboundTenant(app);
  expect((await t.send({ event_id: "evt_q" })).status).toBe(202);
});
afterAll(async () => {
  await app?.stop();
  await db.drop();
});

describe("query strings on routes that take none", () => {
  it.each([
    ["GET", "/v1/usage?x=1", "query.x"],
    ["GET", "/v1/usage?x=%FF", "query.x"],
    ["GET", "/v1/events/evt_q?limit=1&limit=2", "query.limit"],
    ["GET", "/v1/portal-settings?%FF=1", "query"],
    ["GET", "/v1/organizations/ORG?verbose", "query.verbose"],
    ["DELETE", "/v1/applications/APP?force=true", "query.force"],
  ])("%s %s: 400 naming the parameter", async (method, rawPath, field) => {
    const path = rawPath.replace("ORG", t.orgId).replace("APP", t.appId);
    const res = await app.call(method, path, t.token);
    expect(res.status).toBe(400);
    expect(res.body.type).toBe("urn:hookledger:problem:validation");
    expect(res.body.errors.map((error: { field: string }) => error.field).join(" ")).toContain(field);
  });

  it("acts on nothing, and a missing token is still a 401 first", async () => {
    const before = (await app.call("GET", "/v1/applications", t.token)).body.data.length;
    expect((await app.call("POST", "/v1/applications?dry_run=1", t.token, { name: "never" })).status).toBe(400);
    expect((await app.call("GET", "/v1/applications", t.token)).body.data.length).toBe(before);
    expect((await app.call("DELETE", `/v1/applications/${t.appId}?force=true`, t.token)).status).toBe(400);
    expect((await app.call("GET", `/v1/applications/${t.appId}`, t.token)).status).toBe(200);
    expect((await app.call("GET", "/v1/usage?x=1", undefined)).status).toBe(401);
  });

  it("routes that take parameters read them as before; an empty query string is no parameter", async () => {
    expect((await app.call("GET", "/v1/events?limit=5", t.token)).status).toBe(200);
    expect((await app.call("GET", "/v1/usage?", t.token)).status).toBe(200);
    expect((await app.call("GET", "/v1/events/evt_q", t.token)).status).toBe(200);
  });
});
