import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
let app: TestApp;
let document: { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown>; required?: string[] } }> } }>> };

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  document = await (await app.fetch("/openapi.json")).json();
});
afterAll(async () => {
  await app?.stop();
  await db.drop();
});

// Hono regex parameters (`:path{.+}`) are documented by name only.
const key = (method: string, path: string) => `${method.toUpperCase()} ${path.replace(/:(\w+)(?:\{[^}]*\})?/g, "{$1}")}`;

describe("OpenAPI document", () => {
  it("is OpenAPI 3.1 and documents exactly the routes the app serves", () => {
    expect(document.openapi).toBe("3.1.0");
    const served = new Set(app.routes.map((route) => key(route.method, route.path)));
    const documented = new Set(Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => key(method, path))));
    expect([...served].filter((route) => !documented.has(route)).sort()).toEqual([]);
    expect([...documented].filter((route) => !served.has(route)).sort()).toEqual([]);
  });

  it("describes request bodies from the same schemas the handlers validate with", () => {
    const subscription = document.paths["/v1/subscriptions"]?.post?.requestBody?.content["application/json"]?.schema;
    expect(subscription?.required).toEqual(expect.arrayContaining(["app_id", "url", "event_types"]));
    expect(Object.keys(subscription?.properties ?? {})).toEqual(expect.arrayContaining(["headers", "signature_scheme", "retry_schedule", "secret"]));
    const event = document.paths["/v1/events"]?.post?.requestBody?.content["application/json"]?.schema;
    expect(Object.keys(event?.properties ?? {})).toEqual(expect.arrayContaining(["payload", "payload_text", "payload_base64", "event_id", "labels"]));
  });
});
