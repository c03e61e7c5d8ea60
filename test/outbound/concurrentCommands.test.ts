/**
 * Commands on one subscription or event type sent at the same time are decided one after another, as if sent in
 * turn: one DELETE of twenty succeeds and records one entry, the rest answer the 404 a later DELETE gets; a change
 * that lost to a DELETE records nothing after it; twenty creates under a quota of 2 create two; twenty creates of one
 * event-type name create one, and the schema answered is the one stored.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventTypeStream } from "../../src/outbound/eventTypes.ts";
import { subscriptionStream } from "../../src/outbound/subscriptions.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { allAtOnce, countEntries, statuses, streamEntries } from "./allAtOnce.ts";
import { outboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { env: { HOOKLEDGER_QUOTA_SUBSCRIPTIONS_PER_APPLICATION: "2" } });
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

const times = <T>(n: number, make: (i: number) => Promise<T>) => Array.from({ length: n }, (_, i) => make(i));

describe("concurrent subscription commands", () => {
  it("deletes a subscription once when twenty DELETEs arrive together", async () => {
    const t = await outboundTenant(app, []);
    const sub = await t.subscribe({ url: "http://127.0.0.1:9/a" });
    const stream = subscriptionStream(sub.id);
    const answers = await allAtOnce(db, { kind: "stream", orgId: t.orgId, stream }, () => times(20, () => app.call("DELETE", `/v1/subscriptions/${sub.id}`, t.token)));
    expect(statuses(answers)).toEqual([204, ...Array(19).fill(404)]);
    expect((await streamEntries(db, t.orgId, stream)).filter((type) => type === "subscription.deleted")).toHaveLength(1);
  });

  it("records nothing after subscription.deleted when changes race a DELETE", async () => {
    const t = await outboundTenant(app, []);
    const sub = await t.subscribe({ url: "http://127.0.0.1:9/a" });
    const stream = subscriptionStream(sub.id);
    const answers = await allAtOnce(db, { kind: "stream", orgId: t.orgId, stream }, () => [
      ...times(6, (i) => app.call("PATCH", `/v1/subscriptions/${sub.id}`, t.token, { description: `change ${i}` }).then((a) => ({ ...a, kind: "patch" }))),
      app.call("DELETE", `/v1/subscriptions/${sub.id}`, t.token).then((a) => ({ ...a, kind: "delete" })),
      ...times(6, () => app.call("POST", `/v1/subscriptions/${sub.id}/secret/rotate`, t.token, {}).then((a) => ({ ...a, kind: "rotate" }))),
      ...times(6, () => app.call("POST", `/v1/subscriptions/${sub.id}/disable`, t.token).then((a) => ({ ...a, kind: "disable" }))),
    ]);
    const of = (kind: string) => answers.filter((answer) => answer.kind === kind);
    expect(statuses(of("delete"))).toEqual([204]);
    for (const answer of answers) expect([200, 204, 404]).toContain(answer.status);
    const entries = await streamEntries(db, t.orgId, stream);
    expect(entries.at(-1)).toBe("subscription.deleted");
    expect(entries.filter((type) => type === "subscription.updated")).toHaveLength(of("patch").filter((a) => a.status === 200).length);
    expect(entries.filter((type) => type === "subscription.secret_rotated")).toHaveLength(of("rotate").filter((a) => a.status === 200).length);
    // Disabling a disabled subscription is answered 200 and records nothing: at most one disable is recorded.
    expect(entries.filter((type) => type === "subscription.disabled").length).toBeLessThanOrEqual(1);
  });

  it("records one subscription.disabled when twenty disables arrive together", async () => {
    const t = await outboundTenant(app, []);
    const sub = await t.subscribe({ url: "http://127.0.0.1:9/a" });
    const stream = subscriptionStream(sub.id);
    const answers = await allAtOnce(db, { kind: "stream", orgId: t.orgId, stream }, () => times(20, () => app.call("POST", `/v1/subscriptions/${sub.id}/disable`, t.token)));
    expect(statuses(answers)).toEqual(Array(20).fill(200));
    expect((await streamEntries(db, t.orgId, stream)).filter((type) => type === "subscription.disabled")).toHaveLength(1);
  });

  it("keeps the subscriptions-per-application quota when twenty creates arrive together", async () => {
    const t = await outboundTenant(app, []);
    const answers = await allAtOnce(db, { kind: "fanout", orgId: t.orgId }, () =>
      times(20, (i) => app.call("POST", "/v1/subscriptions", t.token, { app_id: t.appId, url: `http://127.0.0.1:9/${i}`, event_types: ["*"] })),
    );
    expect(statuses(answers)).toEqual([201, 201, ...Array(18).fill(403)]);
    for (const answer of answers.filter((a) => a.status === 403)) expect(answer.body).toMatchObject({ quota: "subscriptions_per_application", limit: 2 });
    expect(await countEntries(db, t.orgId, "subscription.created")).toBe(2);
  });
});

describe("concurrent event type commands", () => {
  it("creates a name once when twenty creates of it arrive together, answering the rest as a later create", async () => {
    const t = await outboundTenant(app, []);
    const answers = await allAtOnce(db, { kind: "fanout", orgId: t.orgId }, () =>
      times(20, (i) => app.call("POST", `/v1/applications/${t.appId}/event-types`, t.token, { name: "order.placed", schema: { type: "object", title: `schema ${i}` } })),
    );
    expect(statuses(answers)).toEqual([201, ...Array(19).fill(409)]);
    const later = await app.call("POST", `/v1/applications/${t.appId}/event-types`, t.token, { name: "order.placed" });
    const { request_id: _id, ...laterProblem } = later.body;
    for (const answer of answers.filter((a) => a.status === 409)) expect(answer.body).toEqual({ ...laterProblem, request_id: answer.body.request_id });
    const created = answers.find((a) => a.status === 201);
    const stored = await app.call("GET", `/v1/applications/${t.appId}/event-types/order.placed`, t.token);
    expect(stored.body.schema).toEqual(created?.body.schema);
    expect(await streamEntries(db, t.orgId, eventTypeStream(t.appId, "order.placed"))).toEqual(["event_type.created"]);
  });

  it("deletes an event type once when twenty DELETEs arrive together", async () => {
    const t = await outboundTenant(app, ["order.placed"]);
    const stream = eventTypeStream(t.appId, "order.placed");
    const answers = await allAtOnce(db, { kind: "stream", orgId: t.orgId, stream }, () =>
      times(20, () => app.call("DELETE", `/v1/applications/${t.appId}/event-types/order.placed`, t.token)),
    );
    expect(statuses(answers)).toEqual([204, ...Array(19).fill(404)]);
    expect(await streamEntries(db, t.orgId, stream)).toEqual(["event_type.created", "event_type.deleted"]);
  });

  it("records no change after event_type.deleted when PATCHes race a DELETE", async () => {
    const t = await outboundTenant(app, ["order.placed"]);
    const stream = eventTypeStream(t.appId, "order.placed");
    const answers = await allAtOnce(db, { kind: "stream", orgId: t.orgId, stream }, () => times(10, (i) => app.call("PATCH", `/v1/applications/${t.appId}/event-types/order.placed`, t.token, { description: `change ${i}` })), {
      first: () => app.call("DELETE", `/v1/applications/${t.appId}/event-types/order.placed`, t.token),
    });
    // The DELETE was first in line: every PATCH waited for it, found the resource gone and recorded nothing.
    expect(statuses(answers)).toEqual([204, ...Array(10).fill(404)]);
    const entries = await streamEntries(db, t.orgId, stream);
    expect(entries.at(-1)).toBe("event_type.deleted");
    expect(entries.filter((type) => type === "event_type.updated")).toHaveLength(answers.slice(1).filter((a) => a.status === 200).length);
  });
});
