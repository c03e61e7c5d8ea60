/**
 * Applications with a uid of the caller's own: given on create, changed or cleared by PATCH, unique among an
 * organization's live applications (409 `uid-taken`), never UUID-shaped, and taken in place of the id by every
 * route that names an application — in its path, in a body's `app_id` (subscriptions, events, application
 * tokens), in an `?app_id=` filter — including
 * POST /v1/events, whose stored event and deliveries keep the real id. `?get_if_exists=true` makes a create
 * idempotent by uid.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { allAtOnce } from "../outbound/allAtOnce.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let org: { orgId: string; token: string };
let other: { orgId: string; token: string };

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true });
  receiver = await startReceiver();
  org = await createTenant(app, "Uids");
  other = await createTenant(app, "Other");
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db?.drop();
});

const liveRowsWithUid = async (orgId: string, uid: string) =>
  (await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.applications where org_id = ${orgId} and uid = ${uid} and deleted_at is null`)[0]?.n;

describe("application uids", () => {
  it("creates with a uid and answers it in create, get, list; get, patch and delete by uid", async () => {
    const created = await app.call("POST", "/v1/applications", org.token, { name: "Acme Corp", uid: "cust_42" });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ uid: "cust_42", name: "Acme Corp" });
    const id = created.body.id as string;

    const byUid = await app.call("GET", "/v1/applications/cust_42", org.token);
    expect(byUid.status).toBe(200);
    expect(byUid.body).toEqual(created.body);
    expect((await app.call("GET", `/v1/applications/${id}`, org.token)).body.uid).toBe("cust_42");
    const listed = await app.call("GET", "/v1/applications", org.token);
    expect(listed.body.data.find((row: { id: string }) => row.id === id)).toMatchObject({ uid: "cust_42" });
    // No uid: null in every answer.
    const plain = await app.call("POST", "/v1/applications", org.token, { name: "no uid" });
    expect(plain.body.uid).toBeNull();

    const renamed = await app.call("PATCH", "/v1/applications/cust_42", org.token, { name: "Acme Inc", uid: "cust-42.v2" });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id, name: "Acme Inc", uid: "cust-42.v2" });
    expect((await app.call("GET", "/v1/applications/cust_42", org.token)).status).toBe(404);
    // The ledger records it: application.created and .updated carry the uid.
    const entries = await db.owner<{ type: string; data: Record<string, unknown> }[]>`
      select type, data from hookledger.ledger where org_id = ${org.orgId} and stream = ${`application:${id}`} order by version`;
    expect(entries.map((entry) => [entry.type, entry.data.uid])).toEqual([["application.created", "cust_42"], ["application.updated", "cust-42.v2"]]);

    const cleared = await app.call("PATCH", "/v1/applications/cust-42.v2", org.token, { uid: null });
    expect(cleared.body.uid).toBeNull();
    expect((await app.call("GET", "/v1/applications/cust-42.v2", org.token)).status).toBe(404);
    await app.call("PATCH", `/v1/applications/${id}`, org.token, { uid: "to-delete" });

    expect((await app.call("DELETE", "/v1/applications/to-delete", org.token)).status).toBe(204);
    expect((await app.call("GET", `/v1/applications/${id}`, org.token)).status).toBe(404);
    expect((await app.call("GET", "/v1/applications/to-delete", org.token)).status).toBe(404);
  });

  it("answers 409 uid-taken for a uid another live application has, on create and on PATCH", async () => {
    const first = await app.call("POST", "/v1/applications", org.token, { name: "first", uid: "taken" });
    expect(first.status).toBe(201);
    const clash = await app.call("POST", "/v1/applications", org.token, { name: "second", uid: "taken" });
    expect(clash.status).toBe(409);
    expect(clash.headers.get("content-type")).toContain("application/problem+json");
    expect(clash.body).toMatchObject({ type: "urn:hookledger:problem:uid-taken", errors: [{ field: "uid" }] });
    const second = await app.call("POST", "/v1/applications", org.token, { name: "second", uid: "free" });
    const patched = await app.call("PATCH", `/v1/applications/${second.body.id}`, org.token, { uid: "taken" });
    expect(patched.status).toBe(409);
    expect(patched.body.type).toBe("urn:hookledger:problem:uid-taken");
    // Giving an application the uid it already has is no clash.
    expect((await app.call("PATCH", "/v1/applications/taken", org.token, { uid: "taken" })).status).toBe(200);
    expect(await liveRowsWithUid(org.orgId, "taken")).toBe(1);
  });

  it("refuses a UUID-shaped or malformed uid with 400 naming the field", async () => {
    for (const uid of ["3f2b8c1e-9d4a-4e6b-8c2d-1a2b3c4d5e6f", "3F2B8C1E-9D4A-4E6B-8C2D-1A2B3C4D5E6F", "", "has space", "ü", "x".repeat(257)]) {
      const answer = await app.call("POST", "/v1/applications", org.token, { name: "bad", uid });
      expect(answer.status, uid).toBe(400);
      expect(answer.body.type).toBe("urn:hookledger:problem:validation");
      expect(answer.body.errors.map((error: { field: string }) => error.field)).toContain("uid");
    }
    const app1 = await app.call("POST", "/v1/applications", org.token, { name: "ok", uid: "x".repeat(256) });
    expect(app1.status).toBe(201);
    const patch = await app.call("PATCH", `/v1/applications/${app1.body.id}`, org.token, { uid: "3f2b8c1e-9d4a-4e6b-8c2d-1a2b3c4d5e6f" });
    expect(patch.status).toBe(400);
    expect(patch.body.errors[0].field).toBe("uid");
  });

  it("refuses . and .. as a uid: no path can carry them (clients and the router resolve them as path steps)", async () => {
    for (const uid of [".", ".."]) {
      const created = await app.call("POST", "/v1/applications", org.token, { name: "dots", uid });
      expect(created.status, uid).toBe(400);
      expect(created.body.errors).toEqual([{ field: "uid", message: expect.stringContaining("path") }]);
      const named = await app.call("POST", "/v1/applications", org.token, { name: "dots" });
      const patched = await app.call("PATCH", `/v1/applications/${named.body.id}`, org.token, { uid });
      expect(patched.status, uid).toBe(400);
    }
    // Dots within a uid are as before.
    expect((await app.call("POST", "/v1/applications", org.token, { name: "dotted", uid: "..a.." })).status).toBe(201);
    expect((await app.call("GET", "/v1/applications/..a..", org.token)).body.uid).toBe("..a..");
  });

  it("answers another organization's uid as an unknown one: 404 in paths, empty filters, 400 in bodies", async () => {
    await app.call("POST", "/v1/applications", other.token, { name: "theirs", uid: "their-app" });
    for (const method of ["GET", "PATCH", "DELETE"] as const) {
      const answer = await app.call(method, "/v1/applications/their-app", org.token, method === "PATCH" ? { name: "mine now" } : undefined);
      expect(answer.status, method).toBe(404);
    }
    expect((await app.call("GET", "/v1/applications/their-app/event-types", org.token)).status).toBe(404);
    expect((await app.call("POST", "/v1/applications/their-app/portal-links", org.token)).status).toBe(404);
    expect((await app.call("GET", "/v1/applications/no-such-uid", org.token)).status).toBe(404);
    const subscription = await app.call("POST", "/v1/subscriptions", org.token, { app_id: "their-app", url: receiver.url("/x") });
    expect(subscription.status).toBe(400);
    expect(subscription.body.errors).toEqual([{ field: "app_id", message: "no such application" }]);
    const event = await app.call("POST", "/v1/events", org.token, { app_id: "their-app", event_type: "a.b", payload: {} });
    expect(event.status).toBe(400);
    expect(event.body.errors).toEqual([{ field: "app_id", message: "no such application" }]);
    expect((await app.call("GET", "/v1/subscriptions?app_id=their-app", org.token)).body).toEqual({ data: [], next_cursor: null });
    expect((await app.call("GET", "/v1/events?app_id=their-app", org.token)).body).toEqual({ data: [], next_cursor: null });
    expect((await app.call("GET", "/v1/applications/their-app", other.token)).status).toBe(200);
  });

  it("takes the uid for event types, subscriptions, events and filters; stores and delivers with the real id", async () => {
    const created = await app.call("POST", "/v1/applications", org.token, { name: "shop", uid: "shop.7" });
    const id = created.body.id as string;
    expect((await app.call("POST", "/v1/applications/shop.7/event-types", org.token, { name: "order.paid" })).status).toBe(201);
    expect((await app.call("GET", "/v1/applications/shop.7/event-types/order.paid", org.token)).body).toMatchObject({ name: "order.paid", app_id: id });
    expect((await app.call("PATCH", "/v1/applications/shop.7/event-types/order.paid", org.token, { description: "paid" })).status).toBe(200);
    expect((await app.call("GET", "/v1/applications/shop.7/event-types", org.token)).body.data).toHaveLength(1);
    expect((await app.call("GET", `/v1/applications/${id}/event-types/order.paid`, org.token)).body.description).toBe("paid");

    const subscription = await app.call("POST", "/v1/subscriptions", org.token, { app_id: "shop.7", url: receiver.url("/shop"), event_types: ["order.paid"] });
    expect(subscription.status).toBe(201);
    expect(subscription.body.app_id).toBe(id);
    const listed = await app.call("GET", "/v1/subscriptions?app_id=shop.7", org.token);
    expect(listed.body.data.map((row: { id: string }) => row.id)).toEqual([subscription.body.id]);

    const event = await app.call("POST", "/v1/events", org.token, { app_id: "shop.7", event_type: "order.paid", event_id: "evt_uid_1", payload: { n: 1 } });
    expect(event.status, JSON.stringify(event.body)).toBe(202);
    expect(event.body.deliveries_scheduled).toBe(1);
    const [stored] = await db.owner<{ app_id: string }[]>`select app_id from hookledger.events where org_id = ${org.orgId} and event_id = 'evt_uid_1'`;
    expect(stored?.app_id).toBe(id);
    const deliveries = await db.owner<{ app_id: string; subscription_id: string }[]>`
      select app_id, subscription_id from hookledger.deliveries where org_id = ${org.orgId} and event_id = 'evt_uid_1'`;
    expect(deliveries).toEqual([{ app_id: id, subscription_id: subscription.body.id }]);
    await receiver.waitFor(1, "/shop");
    expect((await app.call("GET", "/v1/events/evt_uid_1", org.token)).body.app_id).toBe(id);
    expect((await app.call("GET", "/v1/events?app_id=shop.7", org.token)).body.data.map((row: { id: string }) => row.id)).toEqual(["evt_uid_1"]);

    // The same event by id is the same request (a repeat), not a conflict: the fingerprint holds the real id.
    const again = await app.call("POST", "/v1/events", org.token, { app_id: id, event_type: "order.paid", event_id: "evt_uid_1", payload: { n: 1 } });
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
  });

  it("resolves a uid given, moved or freed after the fan-out memory read it", async () => {
    const a = await app.call("POST", "/v1/applications", org.token, { name: "a", uid: "moving" });
    const b = await app.call("POST", "/v1/applications", org.token, { name: "b" });
    for (const appId of [a.body.id, b.body.id]) await app.call("POST", `/v1/applications/${appId}/event-types`, org.token, { name: "x.y" });
    const send = (eventId: string) => app.call("POST", "/v1/events", org.token, { app_id: "moving", event_type: "x.y", event_id: eventId, payload: {} });
    const appOf = async (eventId: string) => (await db.owner<{ app_id: string }[]>`select app_id from hookledger.events where org_id = ${org.orgId} and event_id = ${eventId}`)[0]?.app_id;
    expect((await send("mv_1")).status).toBe(202);
    expect(await appOf("mv_1")).toBe(a.body.id);
    // Moved from a to b: the memory that said a is out of date.
    await app.call("PATCH", `/v1/applications/${a.body.id}`, org.token, { uid: null });
    await app.call("PATCH", `/v1/applications/${b.body.id}`, org.token, { uid: "moving" });
    expect((await send("mv_2")).status).toBe(202);
    expect(await appOf("mv_2")).toBe(b.body.id);
    // Freed: unknown.
    await app.call("DELETE", `/v1/applications/${b.body.id}`, org.token);
    expect((await send("mv_3")).status).toBe(400);
    // Given again, to a new application.
    const c = await app.call("POST", "/v1/applications", org.token, { name: "c", uid: "moving" });
    await app.call("POST", `/v1/applications/${c.body.id}/event-types`, org.token, { name: "x.y" });
    expect((await send("mv_4")).status).toBe(202);
    expect(await appOf("mv_4")).toBe(c.body.id);
  });

  it("an application token may use its own application's uid, and no other", async () => {
    const mine = await app.call("POST", "/v1/applications", org.token, { name: "mine", uid: "tok-mine" });
    await app.call("POST", "/v1/applications", org.token, { name: "sibling", uid: "tok-sibling" });
    // Minted for the application by its uid; listed by it; the token keeps the real id.
    const token = await app.call("POST", "/v1/tokens", org.token, { label: "app", scopes: ["applications:read", "events:write", "subscriptions:read"], app_id: "tok-mine" });
    expect(token.status).toBe(201);
    expect(token.body.app_id).toBe(mine.body.id);
    expect((await app.call("GET", "/v1/tokens?app_id=tok-mine", org.token)).body.data.map((row: { id: string }) => row.id)).toEqual([token.body.id]);
    expect((await app.call("POST", "/v1/tokens", org.token, { label: "app", scopes: ["events:write"], app_id: "their-app" })).status).toBe(400);
    expect((await app.call("GET", "/v1/applications/tok-mine", token.body.token)).status).toBe(200);
    expect((await app.call("GET", "/v1/applications/tok-sibling", token.body.token)).status).toBe(404);
    expect((await app.call("GET", "/v1/subscriptions?app_id=tok-sibling", token.body.token)).status).toBe(404);
    await app.call("POST", "/v1/applications/tok-sibling/event-types", org.token, { name: "s.t" });
    const event = await app.call("POST", "/v1/events", token.body.token, { app_id: "tok-sibling", event_type: "s.t", payload: {} });
    expect(event.status).toBe(404);
  });

  it("an application token cannot give, move or clear its application's uid, nor learn another application's", async () => {
    // The uid is the organization's name for the application (its customer's id): an application token that could
    // set it could claim a uid the organization will give its next customer, and get_if_exists would then answer
    // that customer's application with the token holder's (its events sent to the holder's endpoints).
    const mine = await app.call("POST", "/v1/applications", org.token, { name: "held", uid: "held-by-token" });
    await app.call("POST", "/v1/applications", org.token, { name: "neighbour", uid: "neighbour-uid" });
    const token = (await app.call("POST", "/v1/tokens", org.token, { label: "holder", scopes: ["admin"], app_id: mine.body.id })).body.token as string;
    const entries = async () => (await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger where org_id = ${org.orgId}`)[0]?.n;
    const before = await entries();

    for (const uid of ["future-customer", null, "neighbour-uid"]) {
      const refused = await app.call("PATCH", "/v1/applications/held-by-token", token, { uid });
      expect(refused.status).toBe(403);
      expect(refused.body).toMatchObject({ type: "urn:hookledger:problem:forbidden", errors: [{ field: "uid" }] });
      // One answer whether another application has the uid or not.
      expect(JSON.stringify(refused.body)).not.toContain("in use");
    }
    expect(await entries()).toBe(before);
    expect((await app.call("GET", `/v1/applications/${mine.body.id}`, org.token)).body.uid).toBe("held-by-token");
    const getOrCreate = await app.call("POST", "/v1/applications?get_if_exists=true", org.token, { name: "new customer", uid: "future-customer" });
    expect(getOrCreate.status).toBe(201);
    expect(getOrCreate.body.id).not.toBe(mine.body.id);

    // The rest of the application stays its token's to change, and its own uid sent back unchanged is no change.
    const renamed = await app.call("PATCH", "/v1/applications/held-by-token", token, { name: "renamed", uid: "held-by-token" });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: "renamed", uid: "held-by-token" });
    // The organization's token still sets it.
    expect((await app.call("PATCH", "/v1/applications/held-by-token", org.token, { uid: "held-2" })).body.uid).toBe("held-2");
  });

  it("get_if_exists answers 200 with the existing application, unchanged and unrecorded, else creates (201)", async () => {
    const created = await app.call("POST", "/v1/applications?get_if_exists=true", org.token, { name: "gic", uid: "gic-1" });
    expect(created.status).toBe(201);
    const entries = async () => (await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger where org_id = ${org.orgId}`)[0]?.n;
    const before = await entries();
    const found = await app.call("POST", "/v1/applications?get_if_exists=true", org.token, { name: "another name", uid: "gic-1", description: "ignored" });
    expect(found.status).toBe(200);
    expect(found.body).toEqual(created.body);
    expect(await entries()).toBe(before);
    // Without the flag, the same body is a clash; the flag needs a uid and a boolean.
    expect((await app.call("POST", "/v1/applications", org.token, { name: "gic", uid: "gic-1" })).status).toBe(409);
    expect((await app.call("POST", "/v1/applications?get_if_exists=false", org.token, { name: "gic", uid: "gic-1" })).status).toBe(409);
    const noUid = await app.call("POST", "/v1/applications?get_if_exists=true", org.token, { name: "gic" });
    expect(noUid.status).toBe(400);
    expect(noUid.body.errors[0].field).toBe("uid");
    const notBoolean = await app.call("POST", "/v1/applications?get_if_exists=yes", org.token, { name: "gic", uid: "gic-2" });
    expect(notBoolean.status).toBe(400);
    expect(notBoolean.body.errors[0].field).toBe("query.get_if_exists");
  });

  it("eight concurrent get-or-creates of one uid create one application", async () => {
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => app.call("POST", "/v1/applications?get_if_exists=true", org.token, { name: `racer ${i}`, uid: "raced" })),
    );
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(answers.map((answer) => answer.body.id)).size).toBe(1);
    expect(await liveRowsWithUid(org.orgId, "raced")).toBe(1);
    const [row] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger where org_id = ${org.orgId} and type = 'application.created' and data->>'uid' = 'raced'`;
    expect(row?.n).toBe(1);
  });

  it("the OpenAPI document shows uid, get_if_exists, the 200 of a get-or-create and the id-or-uid path parameter", async () => {
    type Parameter = { name: string; in: string; description?: string };
    const document = (await (await app.fetch("/openapi.json")).json()) as {
      paths: Record<string, Record<string, { parameters: Parameter[]; responses: Record<string, unknown>; requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown> } }> } }>>;
      components: { schemas: Record<string, { properties: Record<string, unknown>; required?: string[] }> };
    };
    const create = document.paths["/v1/applications"]?.post;
    expect(create?.parameters.map((parameter) => parameter.name)).toContain("get_if_exists");
    expect(Object.keys(create?.responses ?? {})).toEqual(expect.arrayContaining(["200", "201", "409"]));
    expect(create?.requestBody?.content["application/json"]?.schema.properties).toHaveProperty("uid");
    expect(document.paths["/v1/applications/{app_id}"]?.patch?.requestBody?.content["application/json"]?.schema.properties).toHaveProperty("uid");
    expect(document.components.schemas.Application?.properties).toHaveProperty("uid");
    for (const [path, methods] of Object.entries(document.paths).filter(([path]) => path.startsWith("/v1/applications/{app_id}"))) {
      for (const [method, operation] of Object.entries(methods)) {
        const parameter = operation.parameters.find((candidate) => candidate.name === "app_id" && candidate.in === "path");
        expect(parameter?.description, `${method} ${path}`).toMatch(/uid/);
      }
    }
  });

  it("a create and a PATCH racing for one uid: the index decides, the loser answers uid-taken or, getting, the winner", async () => {
    // Held fan-out version: each command has written its row (and its uid into the index) or is waiting on the
    // other's index entry before either commits; the pre-checks saw no clash.
    const target = await app.call("POST", "/v1/applications", org.token, { name: "patched" });
    const [create, patch] = await allAtOnce(db, { kind: "fanout", orgId: org.orgId }, () => [app.call("PATCH", `/v1/applications/${target.body.id}`, org.token, { uid: "contested" })], {
      first: () => app.call("POST", "/v1/applications", org.token, { name: "created", uid: "contested" }),
      waiting: 2,
    });
    expect(create?.status).toBe(201);
    expect(patch?.status).toBe(409);
    expect(patch?.body.type).toBe("urn:hookledger:problem:uid-taken");

    const other = await app.call("POST", "/v1/applications", org.token, { name: "patched first" });
    const [patched, got] = await allAtOnce(db, { kind: "fanout", orgId: org.orgId }, () => [app.call("POST", "/v1/applications?get_if_exists=true", org.token, { name: "getter", uid: "contested-2" })], {
      first: () => app.call("PATCH", `/v1/applications/${other.body.id}`, org.token, { uid: "contested-2" }),
      waiting: 2,
    });
    expect(patched?.status).toBe(200);
    expect(got?.status).toBe(200);
    expect(got?.body.id).toBe(other.body.id);
    expect(await liveRowsWithUid(org.orgId, "contested-2")).toBe(1);
  });

  it("deleting an application frees its uid for a new one", async () => {
    const first = await app.call("POST", "/v1/applications", org.token, { name: "old", uid: "recycled" });
    expect((await app.call("DELETE", "/v1/applications/recycled", org.token)).status).toBe(204);
    const second = await app.call("POST", "/v1/applications", org.token, { name: "new", uid: "recycled" });
    expect(second.status).toBe(201);
    expect(second.body.id).not.toBe(first.body.id);
    expect((await app.call("GET", "/v1/applications/recycled", org.token)).body.id).toBe(second.body.id);
    // And get_if_exists finds the new one, not the deleted one.
    expect((await app.call("POST", "/v1/applications?get_if_exists=true", org.token, { name: "x", uid: "recycled" })).body.id).toBe(second.body.id);
  });
});
