/**
 * Operational webhooks: a tenant subscribed to its operational application receives, signed like any delivery,
 * the events of its endpoints' lives in the order they happen; no operational event is made about the operational
 * application's own endpoints; producers cannot publish to it.
 */
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type ReceivedRequest, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "./setup.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- bodies are asserted field by field */

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let t: Awaited<ReturnType<typeof outboundTenant>>;

const OPERATIONAL_TYPES = [
  "delivery.exhausted",
  "endpoint.failing",
  "endpoint.recovered",
  "endpoint.disabled",
  "endpoint.enabled",
  "endpoint.circuit_opened",
  "endpoint.circuit_closed",
  "endpoint.created",
  "endpoint.updated",
  "endpoint.deleted",
];

beforeAll(async () => {
  db = await createTestDatabase();
  // Auto-disable after 4 failures (at once): endpoint.failing at 2, 3 and 4 (50/70/90/100% of 4). No circuit
  // breaker here (see operationalCircuit.test.ts), so every attempt is made when due.
  app = await startTestApp(db, {
    worker: true,
    env: { HOOKLEDGER_AUTO_DISABLE_FAILURES: "4", HOOKLEDGER_AUTO_DISABLE_PERIOD_SECONDS: "0", HOOKLEDGER_CIRCUIT_FAILURES: "0" },
  });
  receiver = await startReceiver();
});
beforeEach(async () => {
  t = await outboundTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

async function enableOperational(path: string, extra: Record<string, unknown> = {}) {
  const enabled = await app.call("POST", "/v1/operational-webhooks", t.token);
  expect(enabled.status).toBe(200);
  const subscription = await app.call("POST", "/v1/subscriptions", t.token, { app_id: enabled.body.app_id, url: receiver.url(path), event_types: ["*"], ...extra });
  expect(subscription.status).toBe(201);
  return { appId: enabled.body.app_id as string, subscriptionId: subscription.body.id as string, secret: subscription.body.secret as string };
}

/** The operational events received at a path, verified with the subscription's secret. */
function verified(requests: ReceivedRequest[], secret: string): any[] {
  return requests.map((request) => new Webhook(secret).verify(request.body.toString(), request.headers as Record<string, string>));
}

/** Waits until `count` operational events arrived at the path; answers them verified, in arrival order. */
async function received(path: string, secret: string, count: number): Promise<any[]> {
  return verified(await receiver.waitFor(count, path, 20_000), secret);
}

const briefly = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const summary = (event: any) => (event.type === "endpoint.failing" ? `${event.type}:${event.data.consecutive_failures}` : event.type === "endpoint.disabled" ? `${event.type}:${event.data.reason}` : event.type);

describe("operational webhooks", () => {
  it("POST /v1/operational-webhooks answers the operational application and its event types, once per organization", async () => {
    expect((await app.call("GET", "/v1/operational-webhooks", t.token)).status).toBe(404);
    const first = await app.call("POST", "/v1/operational-webhooks", t.token);
    const again = await app.call("POST", "/v1/operational-webhooks", t.token);
    expect(first.status).toBe(200);
    expect(again.body.app_id).toBe(first.body.app_id);
    expect((await app.call("GET", "/v1/operational-webhooks", t.token)).body).toEqual(first.body);
    expect(first.body.event_types.map((type: { name: string }) => type.name).sort()).toEqual([...OPERATIONAL_TYPES].sort());
    // An ordinary application to the subscriptions API, flagged as the operational one, with its types registered.
    const application = await app.call("GET", `/v1/applications/${first.body.app_id}`, t.token);
    expect(application.body).toMatchObject({ operational: true, name: "operational-webhooks" });
    const types = await app.call("GET", `/v1/applications/${first.body.app_id}/event-types?limit=100`, t.token);
    expect(types.body.data.map((type: { name: string }) => type.name).sort()).toEqual([...OPERATIONAL_TYPES].sort());
    expect(types.body.data.find((type: { name: string }) => type.name === "endpoint.failing").schema.properties.type).toEqual({ const: "endpoint.failing" });
    // hookledger's, not the tenant's: producers cannot publish to it, nor change its types.
    const forged = await app.call("POST", "/v1/events", t.token, { app_id: first.body.app_id, event_type: "endpoint.failing", payload: {} });
    expect(forged.status).toBeGreaterThanOrEqual(400);
    expect(forged.status).toBeLessThan(500);
    expect((await app.call("DELETE", `/v1/applications/${first.body.app_id}/event-types/endpoint.failing`, t.token)).status).toBe(409);
    expect((await app.call("POST", `/v1/applications/${first.body.app_id}/event-types`, t.token, { name: "endpoint.hacked" })).status).toBe(409);
    // Other applications are unaffected, and the operational one takes no share of the applications quota.
    expect((await app.call("GET", `/v1/applications/${t.appId}`, t.token)).body.operational).toBe(false);
    expect((await app.call("GET", "/v1/usage", t.token)).body.usage.applications).toBe(1);
  });

  it("a tenant receives signed events, in order, as an endpoint fails, recovers, fails again and is disabled", async () => {
    const ops = await enableOperational("/ops-life");
    receiver.respond("/customer-life", { status: 500 });
    const customer = await t.subscribe({ url: receiver.url("/customer-life"), event_types: ["invoice.paid"], retry_schedule: [0.05], max_attempts: 3, headers: { "X-Api-Key": "hdr-value-never-sent" } });
    const all: any[] = [];
    const step = async (count: number) => {
      const got = await received("/ops-life", ops.secret, all.length + count);
      const fresh = got.slice(all.length);
      all.push(...fresh);
      return fresh.map(summary);
    };

    expect(await step(1)).toEqual(["endpoint.created"]);
    await t.send({ event_id: "life_1" });
    // Attempts 1-3 fail: failing at 2 and at 3, then the delivery is exhausted (both recorded with attempt 3).
    expect((await step(3)).sort()).toEqual(["delivery.exhausted", "endpoint.failing:2", "endpoint.failing:3"]);
    receiver.respond("/customer-life", { status: 200 });
    await t.send({ event_id: "life_2" });
    expect(await step(1)).toEqual(["endpoint.recovered"]);
    receiver.respond("/customer-life", { status: 503 });
    await t.send({ event_id: "life_3" });
    expect((await step(3)).sort()).toEqual(["delivery.exhausted", "endpoint.failing:2", "endpoint.failing:3"]);
    await t.send({ event_id: "life_4" });
    // The 4th consecutive failure reaches the auto-disable count: failing at 100%, then disabled.
    expect((await step(2)).sort()).toEqual(["endpoint.disabled:auto_disabled", "endpoint.failing:4"]);

    // What happened, in ledger order (the order of the operational events' entries).
    const order = await db.owner<{ type: string; failures: string | null; reason: string | null }[]>`
      select data->>'event_type' as type, (data->>'payload')::jsonb->'data'->>'consecutive_failures' as failures, (data->>'payload')::jsonb->'data'->>'reason' as reason
      from hookledger.ledger where type = 'event.received' and data->>'app_id' = ${ops.appId} order by position`;
    expect(order.map((row) => (row.type === "endpoint.failing" ? `${row.type}:${row.failures}` : row.type === "endpoint.disabled" ? `${row.type}:${row.reason}` : row.type))).toEqual([
      "endpoint.created",
      "endpoint.failing:2",
      "endpoint.failing:3",
      "delivery.exhausted",
      "endpoint.recovered",
      "endpoint.failing:2",
      "endpoint.failing:3",
      "delivery.exhausted",
      "endpoint.failing:4",
      "endpoint.disabled:auto_disabled",
    ]);

    // Payloads name the application, subscription, delivery and event, the last status and counts.
    const exhausted = all.find((event) => event.type === "delivery.exhausted");
    const delivery = (await app.call("GET", "/v1/events/life_1", t.token)).body.deliveries[0];
    expect(exhausted.data).toEqual({
      app_id: t.appId,
      subscription_id: customer.id,
      delivery_id: delivery.id,
      event_id: "life_1",
      event_type: "invoice.paid",
      attempts: 3,
      last_status_code: 500,
      last_error_class: "http_status",
    });
    expect(typeof exhausted.timestamp).toBe("string");
    const disabled = all.find((event) => event.type === "endpoint.disabled");
    expect(disabled.data).toMatchObject({ app_id: t.appId, subscription_id: customer.id, reason: "auto_disabled", consecutive_failures: 4, last_status_code: 503 });
    expect(all.find((event) => event.type === "endpoint.recovered").data).toMatchObject({ subscription_id: customer.id, consecutive_failures: 3, event_id: "life_2" });
    // Never the endpoint's URL, secret or custom header values.
    const bodies = (await receiver.waitFor(all.length, "/ops-life")).map((request) => request.body.toString()).join("\n");
    for (const secretish of ["hdr-value-never-sent", "/customer-life", customer.secret]) expect(bodies).not.toContain(secretish);

    // Operational events are events of the operational application, with their deliveries in history.
    const listed = await app.call("GET", `/v1/events?app_id=${ops.appId}&limit=100`, t.token);
    expect(listed.status).toBe(200);
    expect(listed.body.data).toHaveLength(10);
    const succeeded = await app.call("GET", `/v1/subscriptions/${ops.subscriptionId}/deliveries?status=succeeded&limit=100`, t.token);
    expect(succeeded.body.data).toHaveLength(10);
    // And in the DBA views: the entries (bodies removed, as for every event) and their delivery attempts.
    const [audit] = await db.owner<{ entries: number; attempts: number }[]>`
      select (select count(*)::int from hookledger_audit.event_log
               where org_id = ${t.orgId} and type = 'event.received' and data->>'app_id' = ${ops.appId}
                 and data->'labels'->>'subscription_id' = ${customer.id} and data->>'payload' is null) as entries,
             (select count(*)::int from hookledger_audit.delivery_history
               where org_id = ${t.orgId} and subscription_id = ${ops.subscriptionId} and outcome = 'succeeded') as attempts`;
    expect(audit).toEqual({ entries: 10, attempts: 10 });
  });

  it("endpoint.created, updated (field names only), disabled (manual), enabled and deleted follow the subscriptions API", async () => {
    const ops = await enableOperational("/ops-crud");
    const customer = await t.subscribe({ url: receiver.url("/customer-crud"), event_types: ["invoice.paid"] });
    await app.call("PATCH", `/v1/subscriptions/${customer.id}`, t.token, { headers: { Authorization: "Bearer crud-secret-header" }, description: "new" });
    await app.call("POST", `/v1/subscriptions/${customer.id}/disable`, t.token);
    await app.call("POST", `/v1/subscriptions/${customer.id}/enable`, t.token);
    await app.call("DELETE", `/v1/subscriptions/${customer.id}`, t.token);
    const events = await received("/ops-crud", ops.secret, 5);
    const byType = Object.fromEntries(events.map((event) => [event.type, event.data]));
    expect(Object.keys(byType).sort()).toEqual(["endpoint.created", "endpoint.deleted", "endpoint.disabled", "endpoint.enabled", "endpoint.updated"]);
    expect(byType["endpoint.created"]).toEqual({ app_id: t.appId, subscription_id: customer.id, event_types: ["invoice.paid"], enabled: true });
    expect(byType["endpoint.updated"]).toEqual({ app_id: t.appId, subscription_id: customer.id, changed: ["description", "headers"] });
    expect(byType["endpoint.disabled"]).toMatchObject({ reason: "manual", delivery_id: null });
    expect(byType["endpoint.deleted"]).toEqual({ app_id: t.appId, subscription_id: customer.id });
    expect((await receiver.waitFor(5, "/ops-crud")).map((request) => request.body.toString()).join("\n")).not.toContain("crud-secret-header");
  });

  it("deleting an application announces each of its endpoints as endpoint.deleted", async () => {
    const ops = await enableOperational("/ops-app-gone");
    const doomed = await app.call("POST", "/v1/applications", t.token, { name: "doomed" });
    const subscribe = (path: string) => app.call("POST", "/v1/subscriptions", t.token, { app_id: doomed.body.id, url: receiver.url(path), event_types: ["*"] });
    const first = (await subscribe("/gone-1")).body;
    const second = (await subscribe("/gone-2")).body;
    expect((await app.call("DELETE", `/v1/applications/${doomed.body.id}`, t.token)).status).toBe(204);
    const events = await received("/ops-app-gone", ops.secret, 4);
    const deleted = events.filter((event) => event.type === "endpoint.deleted").map((event) => event.data);
    expect(deleted).toEqual(expect.arrayContaining([
      { app_id: doomed.body.id, subscription_id: first.id },
      { app_id: doomed.body.id, subscription_id: second.id },
    ]));
    expect(deleted).toHaveLength(2);
  });

  it("a subscription's label filter takes the operational events of one application's endpoints only", async () => {
    const enabled = await app.call("POST", "/v1/operational-webhooks", t.token);
    const other = await app.call("POST", "/v1/applications", t.token, { name: "other" });
    const filtered = await app.call("POST", "/v1/subscriptions", t.token, {
      app_id: enabled.body.app_id,
      url: receiver.url("/ops-labels"),
      event_types: ["endpoint.created"],
      labels: { app_id: other.body.id },
    });
    await t.subscribe({ url: receiver.url("/ignored"), event_types: ["invoice.paid"] });
    const wanted = await app.call("POST", "/v1/subscriptions", t.token, { app_id: other.body.id, url: receiver.url("/wanted"), event_types: ["*"] });
    const [event] = await received("/ops-labels", filtered.body.secret, 1);
    expect(event.data.subscription_id).toBe(wanted.body.id);
    await briefly(500);
    expect(receiver.requests.filter((request) => request.path === "/ops-labels")).toHaveLength(1);
  });

  it("makes no operational event about the operational application's own endpoints (no loop)", async () => {
    receiver.respond("/ops-broken", { status: 500 });
    const ops = await enableOperational("/ops-broken", { retry_schedule: [0.05], max_attempts: 3 });
    // One operational event (endpoint.created) for the ops endpoint to fail on, three times: enough to cross
    // failing thresholds (2, 3) and exhaust the delivery, were it an ordinary endpoint.
    await t.subscribe({ url: receiver.url("/customer-loop"), event_types: ["invoice.paid"] });
    await receiver.waitFor(3, "/ops-broken");
    await eventually(async () => {
      const health = (await app.call("GET", `/v1/subscriptions/${ops.subscriptionId}`, t.token)).body.health;
      return health.consecutive_failures === 3 ? true : undefined;
    }, 10_000, "the operational endpoint's three failures to be recorded");
    await briefly(500);
    const events = await db.owner<{ type: string }[]>`
      select data->>'event_type' as type from hookledger.ledger where type = 'event.received' and data->>'app_id' = ${ops.appId} order by position`;
    expect(events.map((row) => row.type)).toEqual(["endpoint.created"]);
    expect(receiver.requests.filter((request) => request.path === "/ops-broken")).toHaveLength(3);
  });

  it("an organization without an operational application gets no operational events", async () => {
    receiver.respond("/customer-quiet", { status: 500 });
    await t.subscribe({ url: receiver.url("/customer-quiet"), event_types: ["invoice.paid"], retry_schedule: [0.05], max_attempts: 3 });
    await t.send({ event_id: "quiet_1" });
    await eventually(async () => ((await app.call("GET", "/v1/events/quiet_1", t.token)).body.deliveries[0]?.status === "failed" ? true : undefined));
    const [row] = await db.owner<{ n: number }[]>`
      select count(*)::int as n from hookledger.ledger where org_id = ${t.orgId} and type = 'event.received' and data->>'event_id' <> 'quiet_1'`;
    expect(row?.n).toBe(0);
  });

  it("documents every operational event type as an OpenAPI 3.1 webhook", async () => {
    const document = await (await app.fetch("/openapi.json")).json();
    expect(Object.keys(document.webhooks).sort()).toEqual([...OPERATIONAL_TYPES].sort());
    const failing = document.webhooks["endpoint.failing"].post;
    const schema = failing.requestBody.content["application/json"].schema;
    expect(schema.properties.type).toEqual({ const: "endpoint.failing" });
    expect(Object.keys(schema.properties.data.properties)).toEqual(expect.arrayContaining(["app_id", "subscription_id", "consecutive_failures", "last_status_code"]));
  });
});
