import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { problemCatalogue, problemType, type ProblemSlug } from "../../src/http/problem.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
let app: TestApp;
interface MediaType {
  schema?: { $ref?: string; type?: string; properties?: Record<string, unknown>; required?: string[] };
}
interface OperationObject {
  requestBody?: { required?: boolean; content: Record<string, MediaType> };
  responses: Record<string, { description: string; headers?: Record<string, { description?: string; schema?: unknown }>; content?: Record<string, MediaType> }>;
  parameters?: { name: string; in: string }[];
}
let document: {
  openapi: string;
  paths: Record<string, Record<string, OperationObject>>;
  components: { schemas: Record<string, { properties?: Record<string, { enum?: string[] }>; required?: string[] }> };
};

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
    // The console's and the portal's pages are for browsers, not API clients (README "Console and portal").
    const browserPages = (path: string) => path.startsWith("/console") || path.startsWith("/portal");
    const served = new Set(app.routes.filter((route) => !browserPages(route.path)).map((route) => key(route.method, route.path)));
    const documented = new Set(Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => key(method, path))));
    expect([...served].filter((route) => !documented.has(route)).sort()).toEqual([]);
    expect([...documented].filter((route) => !served.has(route)).sort()).toEqual([]);
  });

  it("describes request bodies from the same schemas the handlers validate with", () => {
    const subscription = document.paths["/v1/subscriptions"]?.post?.requestBody?.content["application/json"]?.schema;
    expect(subscription?.required).toEqual(expect.arrayContaining(["app_id", "url"]));
    expect(subscription?.required).not.toContain("event_types");
    expect(Object.keys(subscription?.properties ?? {})).toEqual(expect.arrayContaining(["headers", "signature_scheme", "retry_schedule", "secret"]));
    const event = document.paths["/v1/events"]?.post?.requestBody?.content["application/json"]?.schema;
    expect(Object.keys(event?.properties ?? {})).toEqual(expect.arrayContaining(["payload", "payload_text", "payload_base64", "event_id", "labels"]));
    // Every /v1 POST takes an Idempotency-Key, and its success may be a replay.
    const create = document.paths["/v1/applications"]?.post;
    expect(create?.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: "Idempotency-Key", in: "header" })]));
    expect(create?.responses["201"]?.headers).toHaveProperty("Idempotent-Replayed");
    expect(Object.keys(create?.responses ?? {})).toEqual(expect.arrayContaining(["408", "409"]));
    // Problems that ask the client to wait say so with Retry-After; where a status is shared, which of them do.
    expect(create?.responses["429"]?.headers?.["Retry-After"]).toMatchObject({ schema: { type: "integer", minimum: 1 } });
    expect(create?.responses["503"]?.headers?.["Retry-After"]?.description).not.toContain("(on ");
    expect(create?.responses["409"]?.headers?.["Retry-After"]?.description).toContain("(on idempotency-in-progress)");
    expect(create?.responses["400"]?.headers).toBeUndefined();
    // A deprecated event type's event is accepted with a Warning.
    expect(document.paths["/v1/events"]?.post?.responses["202"]?.headers).toEqual(
      expect.objectContaining({ Warning: expect.objectContaining({ schema: { type: "string" } }), "Idempotent-Replayed": expect.anything() }),
    );
    // A body every field of which may be left out may itself be left out (the handlers take none as {}).
    expect(document.paths["/v1/events"]?.post?.requestBody?.required).toBe(true);
    for (const path of ["/v1/events/{event_id}/replay", "/v1/subscriptions/{subscription_id}/secret/rotate", "/v1/pull/{queue}/dequeue", "/v1/pull/{queue}/dead-letters/replay", "/v1/pull/{queue}/dead-letters/purge"]) {
      expect({ path, required: document.paths[path]?.post?.requestBody?.required }).toEqual({ path, required: false });
    }
  });

  it("gives every operation a successful answer with a JSON schema, unless it has no body or is not JSON", () => {
    const notJson: Record<string, string> = { "GET /metrics": "text/plain", "GET /docs": "text/html" };
    const missing: string[] = [];
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const name = `${method.toUpperCase()} ${path}`;
        const successes = Object.keys(operation.responses).filter((status) => /^2\d\d$/.test(status));
        if (successes.length === 0) missing.push(`${name}: no 2xx answer`);
        for (const status of successes) {
          const content = operation.responses[status]?.content;
          if (status === "204") {
            if (content) missing.push(`${name} 204 has a body`);
            continue;
          }
          const mediaType = notJson[name] ?? "application/json";
          if (!content?.[mediaType]?.schema) missing.push(`${name} ${status}: no ${mediaType} schema`);
          else if (mediaType === "application/json" && !content[mediaType].schema.$ref && !content[mediaType].schema.type) missing.push(`${name} ${status}: an empty schema`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it("describes every problem answer with the RFC 9457 body, whose types are the catalogue's", () => {
    const problem = document.components.schemas.Problem;
    expect(problem?.required).toEqual(["type", "title", "status"]);
    expect(problem?.properties?.type?.enum).toEqual(Object.keys(problemCatalogue).map((slug) => problemType(slug as ProblemSlug)));
    const wrong: string[] = [];
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const problems = Object.entries(operation.responses).filter(([status]) => status === "default" || (Number(status) >= 400 && !(path === "/ready" && status === "503")));
        for (const [status, response] of problems) {
          if (response.content?.["application/problem+json"]?.schema?.$ref !== "#/components/schemas/Problem") wrong.push(`${method.toUpperCase()} ${path} ${status}`);
        }
        if (path.startsWith("/v1/") && !operation.responses["401"]) wrong.push(`${method.toUpperCase()} ${path}: no 401`);
      }
    }
    expect(wrong).toEqual([]);
    // Statuses come from what the operation can meet: a conflict where one exists, not everywhere.
    expect(Object.keys(document.paths["/v1/applications/{app_id}/event-types"]?.post?.responses ?? {})).toEqual(
      expect.arrayContaining(["201", "400", "401", "403", "404", "409", "413", "415", "429", "500", "503"]),
    );
    expect(document.paths["/v1/usage"]?.get?.responses["409"]).toBeUndefined();
  });

});
