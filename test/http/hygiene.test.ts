import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver } from "../support/receiver.ts";

let db: TestDatabase;
let app: TestApp;
let tenant: { orgId: string; token: string };

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { env: { HOOKLEDGER_MAX_BODY_BYTES: "2048" } });
  tenant = await createTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await db.drop();
});

describe("HTTP hygiene", () => {
  it("refuses an oversized body with 413 problem+json and accepts nothing", async () => {
    const response = await app.call("POST", "/v1/applications", tenant.token, { name: "big", description: "x".repeat(4000) });
    expect(response.status).toBe(413);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(response.body).toMatchObject({ type: "urn:hookledger:problem:payload-too-large", max_bytes: 2048 });
    expect((await app.call("GET", "/v1/applications", tenant.token)).body.data).toEqual([]);
  });

  it("refuses non-JSON content types with 415 and broken JSON with 400", async () => {
    const text = await app.fetch("/v1/applications", { method: "POST", headers: { authorization: `Bearer ${tenant.token}`, "content-type": "text/plain" }, body: "name=x" });
    expect(text.status).toBe(415);
    const broken = await app.fetch("/v1/applications", { method: "POST", headers: { authorization: `Bearer ${tenant.token}`, "content-type": "application/json" }, body: '{"name":' });
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ type: "urn:hookledger:problem:malformed-json" });
  });

  it("names every bad field, including unknown ones, with hostile input echoed nowhere", async () => {
    const response = await app.call("POST", "/v1/applications", tenant.token, { name: 42, metadata: { k: 1 }, "<img src=x>": true, __proto__: { admin: true } });
    expect(response.status).toBe(400);
    expect(response.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(["<img src=x>", "metadata.k", "name"]);
    expect(response.body.errors.find((e: { field: string }) => e.field === "<img src=x>").message).toBe("unknown field");
  });

  it("answers errors without stack traces or internals, with security headers", async () => {
    const response = await app.fetch("/v1/applications/not-a-uuid", { headers: { authorization: `Bearer ${tenant.token}` } });
    expect(response.status).toBe(404);
    const text = await response.text();
    expect(text).not.toMatch(/at .*\.ts|postgres|select /i);
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("x-frame-options")).toBe("DENY");
  });

  it("answers 503 timeout problem+json when a request runs past HOOKLEDGER_REQUEST_TIMEOUT_MS", async () => {
    const receiver = await startReceiver();
    const slow = await startTestApp(db, { env: { HOOKLEDGER_REQUEST_TIMEOUT_MS: "300" } });
    try {
      receiver.respond("/slow", { status: 200, delayMs: 2000 });
      const appCreated = await slow.call("POST", "/v1/applications", tenant.token, { name: "slow" });
      const sub = await slow.call("POST", "/v1/subscriptions", tenant.token, { app_id: appCreated.body.id, url: receiver.url("/slow"), event_types: ["*"] });
      const started = Date.now();
      const response = await slow.call("POST", `/v1/subscriptions/${sub.body.id}/test`, tenant.token);
      expect(response.status).toBe(503);
      expect(response.body).toMatchObject({ type: "urn:hookledger:problem:timeout" });
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      await slow.stop();
      await receiver.close();
    }
  });

  it("rate-limits per client address and per token with 429 and Retry-After", async () => {
    const limited = await startTestApp(db, { env: { HOOKLEDGER_RATE_LIMIT_TOKEN_RPS: "1", HOOKLEDGER_RATE_LIMIT_TOKEN_BURST: "3" } });
    try {
      const statuses = [];
      let last: Response | undefined;
      for (let i = 0; i < 6; i++) {
        last = await limited.fetch("/v1/applications", { headers: { authorization: `Bearer ${tenant.token}` } });
        statuses.push(last.status);
      }
      expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
      expect(statuses.at(-1)).toBe(429);
      expect(Number(last?.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(await last?.json()).toMatchObject({ type: "urn:hookledger:problem:rate-limited" });
    } finally {
      await limited.stop();
    }
    const byIp = await startTestApp(db, { env: { HOOKLEDGER_RATE_LIMIT_IP_RPS: "1", HOOKLEDGER_RATE_LIMIT_IP_BURST: "2" } });
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await byIp.fetch("/v1/applications")).status);
      expect(statuses).toEqual([401, 401, 429, 429]);
    } finally {
      await byIp.stop();
    }
  });
});
