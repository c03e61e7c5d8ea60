import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
let app: TestApp;
beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true });
});
afterAll(async () => {
  await app?.stop();
  await db.drop();
});

describe("health and readiness", () => {
  it("GET /health answers 200 with security headers and a request id", async () => {
    const response = await app.fetch("/health");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("x-frame-options")).toBe("DENY");
    expect(response.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(response.headers.get("x-powered-by")).toBeNull();
    expect(response.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{32}$/);
  });

  it("echoes a well-formed X-Request-ID and replaces a malformed one", async () => {
    const ok = await app.fetch("/health", { headers: { "X-Request-ID": "trace-1234-abcd" } });
    expect(ok.headers.get("x-request-id")).toBe("trace-1234-abcd");
    const bad = await app.fetch("/health", { headers: { "X-Request-ID": "<script>alert(1)</script>" } });
    expect(bad.headers.get("x-request-id")).toMatch(/^req_/);
  });

  it("GET /ready reports database, migrations and worker", async () => {
    const response = await app.fetch("/ready");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ready", checks: { database: "ok", migrations: "ok", worker: "ok" } });
  });

  it("GET /ready in an API-only process does not claim a worker", async () => {
    const apiOnly = await startTestApp(db, { worker: false });
    try {
      const body = await (await apiOnly.fetch("/ready")).json();
      expect(body).toEqual({ status: "ready", checks: { database: "ok", migrations: "ok", worker: "not_in_this_process" } });
    } finally {
      await apiOnly.stop();
    }
  });

  it("GET /ready answers 503 once the worker has stopped", async () => {
    const other = await startTestApp(db, { worker: true });
    try {
      await other.worker?.stop();
      const response = await other.fetch("/ready");
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ status: "not_ready", checks: { worker: "failing" } });
    } finally {
      await other.stop();
    }
  });

  it("unknown routes answer a problem+json 404 (under /v1, only once authenticated)", async () => {
    expect((await app.fetch("/v1/nothing-here")).status).toBe(401);
    const response = await app.fetch("/nothing-here");
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(await response.json()).toMatchObject({ type: "urn:hookledger:problem:not-found", status: 404, title: "No such resource" });
  });
});
