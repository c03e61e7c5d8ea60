/**
 * An ingress route's `publish.app_id` takes the application's uid, on create and PATCH, as every `/v1` body that names
 * an application does. It is resolved when the route is saved: the route, its answer and its ledger entries name the
 * application's id, and webhooks keep publishing to that application after the uid moves to another one. A uid no
 * live application of the organization has is a 400 naming `publish.app_id`, with nothing written.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { inboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof inboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true });
  t = await inboundTenant(app);
  expect((await app.call("PATCH", `/v1/applications/${t.appId}`, t.token, { uid: "acme-hooks" })).status).toBe(200);
  const other = await createTenant(app, "Other");
  await app.call("POST", "/v1/applications", other.token, { name: "theirs", uid: "their-app" });
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

const routeEntries = (routeId: string) =>
  db.owner<{ type: string; data: { publish?: unknown } }[]>`
    select type, data from hookledger.ledger where stream = ${`ingress_route:${routeId}`} and type in ('ingress_route.created', 'ingress_route.updated') order by version`;
const routeCount = async () => (await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger where type like 'ingress_route.%'`)[0]?.n ?? 0;

const basicAuthorization = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
const basicRoute = { auth: { type: "basic", username: "sender" }, secrets: [{ value: "a-long-enough-password-123" }] };
const send = (routeId: string, body: string) =>
  app.fetch(`/in/${routeId}`, { method: "POST", headers: { "content-type": "application/json", authorization: basicAuthorization("sender", "a-long-enough-password-123") }, body });

describe("ingress route publish.app_id by uid", () => {
  it("stores, answers and records the application's id for a uid given on create and on PATCH", async () => {
    const created = await app.call("POST", "/v1/ingress-routes", t.token, { name: "by uid", ...basicRoute, publish: { app_id: "acme-hooks", event_type: "github.push" } });
    expect(created.status).toBe(201);
    expect(created.body.publish).toEqual({ app_id: t.appId, event_type: "github.push" });
    expect((await app.call("GET", `/v1/ingress-routes/${created.body.id}`, t.token)).body.publish).toEqual({ app_id: t.appId, event_type: "github.push" });

    const patched = await app.call("PATCH", `/v1/ingress-routes/${created.body.id}`, t.token, { publish: { app_id: "acme-hooks", event_type: "stripe.event" } });
    expect(patched.status).toBe(200);
    expect(patched.body.publish).toEqual({ app_id: t.appId, event_type: "stripe.event" });
    expect((await routeEntries(created.body.id)).map((entry) => [entry.type, entry.data.publish])).toEqual([
      ["ingress_route.created", { app_id: t.appId, event_type: "github.push" }],
      ["ingress_route.updated", { app_id: t.appId, event_type: "stripe.event" }],
    ]);
    const [row] = await db.owner<{ publish_app_id: string }[]>`select publish_app_id from hookledger.ingress_routes where route_id = ${created.body.id}`;
    expect(row?.publish_app_id).toBe(t.appId);
  });

  it("refuses a uid no live application of the organization has, and a malformed one, with 400 naming publish.app_id", async () => {
    const existing = (await app.call("POST", "/v1/ingress-routes", t.token, { name: "existing", ...basicRoute })).body.id as string;
    const before = await routeCount();
    for (const appId of ["no-such-app", "their-app", "a b", ""]) {
      const publish = { app_id: appId, event_type: "github.push" };
      for (const answer of [
        await app.call("POST", "/v1/ingress-routes", t.token, { name: "refused", ...basicRoute, publish }),
        await app.call("PATCH", `/v1/ingress-routes/${existing}`, t.token, { publish }),
      ]) {
        expect(answer.status, appId).toBe(400);
        expect(answer.headers.get("content-type")).toContain("application/problem+json");
        expect(answer.body.errors.map((error: { field: string }) => error.field), appId).toEqual(["publish.app_id"]);
      }
    }
    expect(await routeCount()).toBe(before);
  });

  it("resolves the uid once, when the route is saved: webhooks keep going to that application after the uid moves", async () => {
    const route = await app.call("POST", "/v1/ingress-routes", t.token, { name: "kept", ...basicRoute, publish: { app_id: "acme-hooks", event_type: "github.push" } });
    expect(route.status).toBe(201);
    // The uid moves to a new application with the same event type.
    expect((await app.call("PATCH", `/v1/applications/${t.appId}`, t.token, { uid: null })).status).toBe(200);
    const moved = await app.call("POST", "/v1/applications", t.token, { name: "new owner", uid: "acme-hooks" });
    expect(moved.status).toBe(201);
    await app.call("POST", `/v1/applications/${moved.body.id}/event-types`, t.token, { name: "github.push" });

    const received = await send(route.body.id, '{"n":1}');
    expect(received.status).toBe(202);
    const { receipt_id: receiptId } = (await received.json()) as { receipt_id: string };
    const event = await eventually(async () => {
      const found = await app.call("GET", `/v1/events/${receiptId}`, t.token);
      return found.status === 200 ? found.body : undefined;
    }, 20_000, "the published event");
    expect(event.app_id).toBe(t.appId);
    expect((await app.call("GET", `/v1/ingress-routes/${route.body.id}`, t.token)).body.publish.app_id).toBe(t.appId);
  });
});

describe("the OpenAPI document", () => {
  it("says publish.app_id takes an id or uid, resolved to the id when the route is saved, and that the route answers the id", async () => {
    type Schema = { description?: string; anyOf?: Schema[]; properties?: Record<string, Schema>; $ref?: string };
    const document = (await (await app.fetch("/openapi.json")).json()) as {
      paths: Record<string, Record<string, { requestBody: { content: Record<string, { schema: Schema }> } }>>;
      components: { schemas: Record<string, Schema> };
    };
    const objectOf = (schema: Schema | undefined) => schema?.anyOf?.find((option) => option.properties) ?? schema;
    for (const [path, method] of [["/v1/ingress-routes", "post"], ["/v1/ingress-routes/{route_id}", "patch"]] as const) {
      const publish = document.paths[path]?.[method]?.requestBody.content["application/json"]?.schema.properties?.publish;
      expect(publish?.description, `${method} ${path}`).toMatch(/null: not published/);
      const appId = objectOf(publish)?.properties?.app_id?.description;
      expect(appId, `${method} ${path}`).toMatch(/id, or its uid/);
      expect(appId, `${method} ${path}`).toMatch(/resolved to the application's id when the route is saved/);
      expect(appId, `${method} ${path}`).toMatch(/keeps publishing to that application if the uid later moves/);
    }
    const answered = objectOf(document.components.schemas.IngressRoute?.properties?.publish)?.properties?.app_id?.description;
    expect(answered).toMatch(/The application's id, also when the route was saved with its uid/);
  });
});
