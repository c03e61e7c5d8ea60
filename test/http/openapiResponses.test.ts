/**
 * What /openapi.json promises is what the API answers. Every operation in the served document is called over
 * real HTTP, and each answer's status must be documented for that operation and its body must validate against
 * the documented schema — with objects closed (no undocumented field), except the extensible problem body.
 * The last test fails when an operation was never exercised, so a new route cannot skip this check.
 */
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SCOPES } from "../../src/tenancy/scopes.ts";
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- parsed JSON bodies, checked against the document */

type Json = Record<string, any>;

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const ajv = addFormats(new Ajv2020({ allErrors: true, strict: false }));

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let document: Json;
/** Components as `$defs`, closed, so each compiled response schema resolves its `$ref`s on its own. */
let definitions: Json;
const validators = new Map<Json, ValidateFunction>();
const answered = new Set<string>();

/** Closes every object that lists properties: an undocumented field is drift. The problem body is open by design. */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (typeof schema !== "object" || schema === null) return schema;
  const copy = Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, closed(value)])) as Json;
  if (copy.type === "object" && copy.properties && copy.additionalProperties === undefined && copy.title !== "Problem") copy.additionalProperties = false;
  return copy;
}

function validatorFor(schema: Json): ValidateFunction {
  let validate = validators.get(schema);
  if (!validate) {
    validate = ajv.compile({ ...(closed(schema) as Json), $defs: definitions });
    validators.set(schema, validate);
  }
  return validate;
}

/**
 * Calls `method template` (a documented path, `{param}`s filled from `params`) and checks the answer against the
 * document: status listed, media type as documented, body valid. Returns the parsed body.
 */
async function call(
  method: string,
  template: string,
  options: { params?: Record<string, string>; token?: string; body?: unknown; headers?: Record<string, string>; rawBody?: string } = {},
): Promise<{ status: number; body: any }> {
  const path = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = options.params?.[name];
    if (value === undefined) throw new Error(`no value for {${name}} in ${template}`);
    return name === "path" ? value : encodeURIComponent(value);
  });
  const response = await app.fetch(path, {
    method,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body !== undefined || options.rawBody !== undefined ? { "content-type": "application/json" } : {}),
      ...options.headers,
    },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : options.rawBody !== undefined ? { body: options.rawBody } : {}),
  });
  const text = await response.text();
  const operation = document.paths[template]?.[method.toLowerCase()];
  expect(operation, `${method} ${template} is documented`).toBeDefined();
  const documented = operation.responses[String(response.status)];
  expect(documented, `${method} ${template} answered ${response.status}, which the document does not list: ${text.slice(0, 300)}`).toBeDefined();
  if (response.status < 300) answered.add(`${method} ${template}`);
  if (!documented.content) {
    expect(text, `${method} ${template} ${response.status} has no body`).toBe("");
    return { status: response.status, body: undefined };
  }
  const [mediaType, { schema }] = Object.entries(documented.content as Record<string, { schema: Json }>)[0]!;
  expect(response.headers.get("content-type") ?? "").toContain(mediaType);
  if (!mediaType.includes("json")) return { status: response.status, body: text };
  const body = JSON.parse(text);
  // /openapi.json is itself open-ended (extensions, and the paths any build serves).
  const validate = template === "/openapi.json" ? ajv.compile({ ...schema, $defs: definitions }) : validatorFor(schema);
  expect(validate(body) ? [] : validate.errors, `${method} ${template} ${response.status}`).toEqual([]);
  return { status: response.status, body };
}

const expectStatus = (result: { status: number; body: unknown }, status: number) => expect(result.status, JSON.stringify(result.body)).toBe(status);

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  receiver = await startReceiver();
  const served = (await (await app.fetch("/openapi.json")).json()) as Json;
  definitions = closed(JSON.parse(JSON.stringify(served.components.schemas).replaceAll("#/components/schemas/", "#/$defs/"))) as Json;
  document = JSON.parse(JSON.stringify(served).replaceAll("#/components/schemas/", "#/$defs/"));
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db?.drop();
});

const ctx: Record<string, string> = {};
const hourAgo = () => new Date(Date.now() - 3_600_000).toISOString();
const inADay = () => new Date(Date.now() + 86_400_000).toISOString();

describe("answers match /openapi.json", () => {
  it("service operations", async () => {
    expectStatus(await call("GET", "/health"), 200);
    expectStatus(await call("GET", "/ready"), 200);
    expectStatus(await call("GET", "/metrics"), 200);
    expectStatus(await call("GET", "/openapi.json"), 200);
    expectStatus(await call("GET", "/docs"), 200);
  });

  it("tenancy", async () => {
    const admin = TEST_ADMIN_TOKEN;
    const org = await call("POST", "/v1/organizations", { token: admin, body: { name: "Docs", metadata: { tier: "gold" } } });
    expectStatus(org, 201);
    ctx.org = org.body.id;
    expectStatus(await call("GET", "/v1/organizations", { token: admin }), 200);
    expectStatus(await call("GET", "/v1/organizations/{org_id}", { token: admin, params: { org_id: ctx.org! } }), 200);
    expectStatus(await call("PATCH", "/v1/organizations/{org_id}", { token: admin, params: { org_id: ctx.org! }, body: { retention_days: 30, quotas: { applications: 10 } } }), 200);
    const token = await call("POST", "/v1/organizations/{org_id}/tokens", { token: admin, params: { org_id: ctx.org! }, body: { label: "all", scopes: [...SCOPES] } });
    expectStatus(token, 201);
    ctx.token = token.body.token;

    const reader = await call("POST", "/v1/tokens", { token: ctx.token, body: { label: "reader", scopes: ["events:read"], expires_at: inADay(), queues: ["docs"] } });
    expectStatus(reader, 201);
    expectStatus(await call("GET", "/v1/tokens", { token: ctx.token }), 200);
    expectStatus(await call("GET", "/v1/tokens/{token_id}", { token: ctx.token, params: { token_id: reader.body.id } }), 200);
    expectStatus(await call("DELETE", "/v1/tokens/{token_id}", { token: ctx.token, params: { token_id: reader.body.id } }), 200);

    const application = await call("POST", "/v1/applications", { token: ctx.token, body: { name: "billing", description: "invoices" } });
    expectStatus(application, 201);
    ctx.app = application.body.id;
    expectStatus(await call("GET", "/v1/applications", { token: ctx.token }), 200);
    expectStatus(await call("GET", "/v1/applications/{app_id}", { token: ctx.token, params: { app_id: ctx.app! } }), 200);
    expectStatus(await call("PATCH", "/v1/applications/{app_id}", { token: ctx.token, params: { app_id: ctx.app! }, body: { metadata: { team: "finance" } } }), 200);
    const spare = await call("POST", "/v1/applications", { token: ctx.token, body: { name: "spare" } });
    expectStatus(await call("DELETE", "/v1/applications/{app_id}", { token: ctx.token, params: { app_id: spare.body.id } }), 204);

    expectStatus(await call("GET", "/v1/audit-log", { token: ctx.token }), 200);
    expectStatus(await call("GET", "/v1/usage", { token: ctx.token }), 200);
    const spareOrg = await call("POST", "/v1/organizations", { token: admin, body: { name: "Spare" } });
    expectStatus(await call("DELETE", "/v1/organizations/{org_id}", { token: admin, params: { org_id: spareOrg.body.id } }), 204);
  });

  it("outbound", async () => {
    const token = ctx.token!;
    const app_id = ctx.app!;
    const types = "/v1/applications/{app_id}/event-types";
    expectStatus(await call("POST", types, { token, params: { app_id }, body: { name: "invoice.paid", schema: { type: "object" } } }), 201);
    expectStatus(await call("GET", types, { token, params: { app_id } }), 200);
    expectStatus(await call("GET", `${types}/{name}`, { token, params: { app_id, name: "invoice.paid" } }), 200);
    expectStatus(await call("PATCH", `${types}/{name}`, { token, params: { app_id, name: "invoice.paid" }, body: { description: "money in" } }), 200);
    await call("POST", types, { token, params: { app_id }, body: { name: "invoice.voided" } });
    expectStatus(await call("DELETE", `${types}/{name}`, { token, params: { app_id, name: "invoice.voided" } }), 204);

    expectStatus(await call("GET", "/v1/operational-webhooks", { token }), 404);
    expectStatus(await call("POST", "/v1/operational-webhooks", { token }), 200);
    expectStatus(await call("GET", "/v1/operational-webhooks", { token }), 200);

    const created = await call("POST", "/v1/subscriptions", { token, body: { app_id, url: receiver.url("/hook"), event_types: ["*"], headers: { "X-Api-Key": "k1" } } });
    expectStatus(created, 201);
    const subscription_id = created.body.id as string;
    const sub = "/v1/subscriptions/{subscription_id}";
    expectStatus(await call("GET", "/v1/subscriptions", { token }), 200);
    expectStatus(await call("GET", sub, { token, params: { subscription_id } }), 200);
    expectStatus(await call("PATCH", sub, { token, params: { subscription_id }, body: { description: "books" } }), 200);
    expectStatus(await call("POST", `${sub}/enable`, { token, params: { subscription_id } }), 200);
    expectStatus(await call("GET", `${sub}/secret`, { token, params: { subscription_id } }), 200);
    expectStatus(await call("POST", `${sub}/secret/rotate`, { token, params: { subscription_id }, body: { overlap_seconds: 60 } }), 200);
    expectStatus(await call("POST", `${sub}/test`, { token, params: { subscription_id } }), 200);

    const published = await call("POST", "/v1/events", { token, body: { app_id, event_type: "invoice.paid", payload: { amount: 42 }, labels: { region: "eu" } } });
    expectStatus(published, 202);
    await call("POST", "/v1/events", { token, body: { app_id, event_type: "invoice.paid", payload_text: "plain" } });
    await call("POST", "/v1/events", { token, body: { app_id, event_type: "invoice.paid", payload_base64: "AAEC", content_type: "application/octet-stream" } });
    expectStatus(await call("GET", "/v1/events", { token }), 200);
    const event_id = published.body.event_id as string;
    expectStatus(await call("GET", "/v1/events/{event_id}", { token, params: { event_id } }), 200);
    expectStatus(await call("GET", "/v1/events/{event_id}/deliveries", { token, params: { event_id } }), 200);
    expectStatus(await call("POST", "/v1/events/{event_id}/replay", { token, params: { event_id }, body: { subscription_id } }), 202);

    expectStatus(await call("GET", `${sub}/stats`, { token, params: { subscription_id } }), 200);
    const deliveries = await call("GET", `${sub}/deliveries`, { token, params: { subscription_id } });
    expectStatus(deliveries, 200);
    const pending = (deliveries.body.data as Json[]).find((delivery) => delivery.status === "pending");
    expect(pending).toBeDefined();
    expectStatus(await call("GET", "/v1/deliveries/{delivery_id}", { token, params: { delivery_id: pending!.id } }), 200);
    expectStatus(await call("POST", "/v1/deliveries/{delivery_id}/retry", { token, params: { delivery_id: pending!.id } }), 202);
    expectStatus(await call("POST", `${sub}/recover`, { token, params: { subscription_id }, body: { since: hourAgo() } }), 202);
    expectStatus(await call("POST", `${sub}/replay-missing`, { token, params: { subscription_id }, body: { since: hourAgo() } }), 202);

    const attempts = await call("GET", "/v1/attempts", { token });
    expectStatus(attempts, 200);
    expectStatus(await call("GET", "/v1/attempts/{attempt_id}", { token, params: { attempt_id: attempts.body.data[0].id } }), 200);
    expectStatus(await call("POST", `${sub}/disable`, { token, params: { subscription_id } }), 200);
    expectStatus(await call("DELETE", sub, { token, params: { subscription_id } }), 204);
  });

  it("inbound", async () => {
    const token = ctx.token!;
    expectStatus(await call("POST", "/v1/pull-queues", { token, body: { name: "docs", max_deliveries: 1 } }), 201);
    expectStatus(await call("GET", "/v1/pull-queues", { token }), 200);
    expectStatus(await call("GET", "/v1/pull-queues/{queue}", { token, params: { queue: "docs" } }), 200);
    expectStatus(await call("PATCH", "/v1/pull-queues/{queue}", { token, params: { queue: "docs" }, body: { lease_seconds: 60 } }), 200);

    const created = await call("POST", "/v1/ingress-routes", {
      token,
      body: { name: "github", auth: { type: "basic", username: "hooks" }, queue: "docs", path: "github/main", secrets: [{ value: "pw-0123456789abcdef" }, {}] },
    });
    expectStatus(created, 201);
    const route_id = created.body.id as string;
    const route = "/v1/ingress-routes/{route_id}";
    expectStatus(await call("GET", "/v1/ingress-routes", { token }), 200);
    expectStatus(await call("GET", route, { token, params: { route_id } }), 200);
    expectStatus(await call("PATCH", route, { token, params: { route_id }, body: { description: "pushes" } }), 200);
    const secret = await call("POST", `${route}/secrets`, { token, params: { route_id }, body: { value: "pw2-0123456789abcdef" } });
    expectStatus(secret, 201);
    const secret_id = secret.body.id as string;
    expectStatus(await call("PATCH", `${route}/secrets/{secret_id}`, { token, params: { route_id, secret_id }, body: { valid_until: inADay() } }), 200);
    expectStatus(await call("DELETE", `${route}/secrets/{secret_id}`, { token, params: { route_id, secret_id } }), 204);

    const basic = { authorization: `Basic ${Buffer.from("hooks:pw-0123456789abcdef").toString("base64")}` };
    expectStatus(await call("POST", "/in/{route_id}", { params: { route_id }, headers: basic, rawBody: '{"n":1}' }), 202);
    expectStatus(await call("POST", "/in/{org_id}/{path}", { params: { org_id: ctx.org!, path: "github/main" }, headers: basic, rawBody: '{"n":2}' }), 202);
    expectStatus(await call("GET", `${route}/receipts`, { token, params: { route_id } }), 200);

    const pull = "/v1/pull/{queue}";
    const queue = { queue: "docs" };
    const first = await call("POST", `${pull}/dequeue`, { token, params: queue, body: { max_messages: 1 } });
    expectStatus(first, 200);
    const firstLease = [first.body.messages[0].lease_id as string];
    expectStatus(await call("POST", `${pull}/extend`, { token, params: queue, body: { lease_ids: firstLease, lease_seconds: 120 } }), 200);
    expectStatus(await call("POST", `${pull}/ack`, { token, params: queue, body: { lease_ids: firstLease } }), 200);
    // max_deliveries 1: a nacked message is dead-lettered when it would be leased a second time.
    const second = await call("POST", `${pull}/dequeue`, { token, params: queue, body: {} });
    expectStatus(await call("POST", `${pull}/nack`, { token, params: queue, body: { lease_ids: [second.body.messages[0].lease_id] } }), 200);
    expect((await call("POST", `${pull}/dequeue`, { token, params: queue })).body.messages).toEqual([]);
    const dead = await call("GET", `${pull}/dead-letters`, { token, params: queue });
    expectStatus(dead, 200);
    expect(dead.body.data).toHaveLength(1);
    expectStatus(await call("POST", `${pull}/dead-letters/replay`, { token, params: queue, body: {} }), 200);
    const again = await call("POST", `${pull}/dequeue`, { token, params: queue, body: {} });
    await call("POST", `${pull}/nack`, { token, params: queue, body: { lease_ids: [again.body.messages[0].lease_id] } });
    await call("POST", `${pull}/dequeue`, { token, params: queue, body: {} });
    expectStatus(await call("POST", `${pull}/dead-letters/purge`, { token, params: queue, body: {} }), 200);

    expectStatus(await call("POST", `${route}/publish`, { token, params: { route_id }, body: { body: '{"n":3}', headers: { "content-type": "application/json" } } }), 202);

    const spare = await call("POST", "/v1/ingress-routes", { token, body: { name: "spare", auth: { type: "basic", username: "x" } } });
    expectStatus(await call("DELETE", route, { token, params: { route_id: spare.body.id } }), 204);
  });

  it("portal", async () => {
    const token = ctx.token!;
    expectStatus(await call("PATCH", "/v1/portal-settings", { token, body: { allowed_origins: ["https://app.example.com"] } }), 200);
    expectStatus(await call("GET", "/v1/portal-settings", { token }), 200);
    expectStatus(await call("POST", "/v1/applications/{app_id}/portal-links", { token, params: { app_id: ctx.app! } }), 201);
  });

  it("problems, as documented per operation", async () => {
    expectStatus(await call("GET", "/v1/applications"), 401);
    expectStatus(await call("GET", "/v1/applications/{app_id}", { token: ctx.token!, params: { app_id: "00000000-0000-4000-8000-000000000000" } }), 404);
    expectStatus(await call("POST", "/v1/applications", { token: ctx.token!, body: { name: "" } }), 400);
    expectStatus(await call("POST", "/v1/applications", { token: ctx.token!, rawBody: "{" }), 400);
    expectStatus(await call("POST", "/v1/organizations", { token: ctx.token!, body: { name: "Nope" } }), 403);
    expectStatus(await call("POST", "/v1/applications/{app_id}/event-types", { token: ctx.token!, params: { app_id: ctx.app! }, body: { name: "invoice.paid" } }), 409);
    expectStatus(await call("POST", "/in/{route_id}", { params: { route_id: "rt_doesnotexist0000000000" }, rawBody: "{}" }), 404);
  });

  it("every documented operation was answered successfully above", () => {
    const documented = Object.entries(document.paths as Record<string, Json>).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));
    expect(documented.filter((operation) => !answered.has(operation)).sort()).toEqual([]);
  });
});
