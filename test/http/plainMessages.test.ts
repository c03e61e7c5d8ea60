/**
 * Every refusal says what was wrong in plain words, whichever schema caught it: a missing field is `required`, a
 * value of the wrong type or outside a list says what was expected and what came (valibot's own defaults —
 * `Invalid key: Expected "since" but received undefined` — reached clients before). And the small rules a review of
 * the README found missing: a manual publish names its body, a 404 for no route names its instance.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { inboundTenant } from "../inbound/setup.ts";

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof inboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  t = await inboundTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await db.drop();
});

const errorsOf = (res: { body: { errors?: unknown } }) => res.body.errors;

describe("plain refusals", () => {
  it("a missing required field is `required`", async () => {
    const sub = await app.call("POST", "/v1/subscriptions", t.token, { app_id: t.appId, url: "http://127.0.0.1:9/x", event_types: ["*"] });
    expect(sub.status).toBe(201);
    const recover = await app.call("POST", `/v1/subscriptions/${sub.body.id}/recover`, t.token, {});
    expect(recover.status).toBe(400);
    expect(errorsOf(recover)).toEqual([{ field: "since", message: "required" }]);
  });

  it("a value outside a list or of the wrong type says what was expected and what came", async () => {
    const listed = await app.call("GET", `/v1/applications/${t.appId}/event-types?include_deprecated=no`, t.token);
    expect(errorsOf(listed)).toEqual([{ field: "query.include_deprecated", message: 'expected "true" or "false", got "no"' }]);
    const quotas = await app.call("PATCH", `/v1/organizations/${t.orgId}`, TEST_ADMIN_TOKEN, { quotas: { applications: null } });
    expect(errorsOf(quotas)).toEqual([{ field: "quotas.applications", message: "expected number, got null" }]);
  });

  it("no refusal anywhere in these answers carries valibot's default wording", async () => {
    const answers = await Promise.all([
      app.call("POST", "/v1/applications", t.token, {}),
      app.call("POST", "/v1/subscriptions", t.token, { app_id: 5, url: [], event_types: "x", retry_schedule: [null] }),
      app.call("POST", "/v1/ingress-routes", t.token, { auth: { type: "hmac" } }),
      app.call("POST", "/v1/pull-queues", t.token, { name: 1 }),
      app.call("POST", "/v1/tokens", t.token, { scopes: ["nope"] }),
    ]);
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      expect(JSON.stringify(answer.body)).not.toMatch(/Invalid \w+: Expected/);
    }
  });
});

describe("rules the README review found", () => {
  it("a manual publish must name its body; an empty message is body: \"\"", async () => {
    await t.createQueue("manual");
    const route = await t.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ value: "k" }], queue: "manual" });
    const empty = await app.call("POST", `/v1/ingress-routes/${route.id}/publish`, t.token, {});
    expect(empty.status).toBe(400);
    expect(errorsOf(empty)).toEqual([{ field: "body", message: 'give body (text) or body_base64 (bytes); an empty message is "body": ""' }]);
    expect((await app.call("POST", `/v1/ingress-routes/${route.id}/publish`, t.token, { body: "" })).status).toBe(202);
  });

  it("a 404 for a path no route serves names its instance", async () => {
    const missing = await app.call("GET", "/v1/nothing-here", t.token);
    expect(missing.status).toBe(404);
    expect(missing.body.instance).toBe("/v1/nothing-here");
  });
});
