/**
 * The circuit breaker's transitions reach the tenant as endpoint.circuit_opened and endpoint.circuit_closed
 * (an app of its own: the breaker's settings are per instance).
 */
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, {
    worker: true,
    env: { HOOKLEDGER_CIRCUIT_FAILURES: "2", HOOKLEDGER_CIRCUIT_COOLDOWN_SECONDS: "1", HOOKLEDGER_CIRCUIT_MAX_COOLDOWN_SECONDS: "1" },
  });
  receiver = await startReceiver();
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

describe("operational circuit events", () => {
  it("publishes endpoint.circuit_opened when the circuit opens and endpoint.circuit_closed when a probe succeeds", async () => {
    const t = await outboundTenant(app);
    const ops = await app.call("POST", "/v1/operational-webhooks", t.token);
    const opsSub = await app.call("POST", "/v1/subscriptions", t.token, { app_id: ops.body.app_id, url: receiver.url("/ops"), event_types: ["endpoint.circuit_opened", "endpoint.circuit_closed"] });
    expect(opsSub.status).toBe(201);
    receiver.respond("/breaker", { status: 502 }, { status: 502 }, { status: 200 });
    const sub = await t.subscribe({ url: receiver.url("/breaker"), event_types: ["invoice.paid"], retry_schedule: [0.05], max_attempts: 10 });
    await t.send({ event_id: "breaker_1" });
    await eventually(async () => ((await app.call("GET", "/v1/events/breaker_1", t.token)).body.deliveries[0]?.status === "succeeded" ? true : undefined), 15_000);
    const requests = await receiver.waitFor(2, "/ops", 15_000);
    const events = requests.map((request) => new Webhook(opsSub.body.secret).verify(request.body.toString(), request.headers as Record<string, string>) as { type: string; data: Record<string, unknown> });
    expect(events.map((event) => event.type)).toEqual(["endpoint.circuit_opened", "endpoint.circuit_closed"]);
    expect(events[0]!.data).toMatchObject({ app_id: t.appId, subscription_id: sub.id, consecutive_failures: 2, opens: 1, last_status_code: 502, last_error_class: "http_status" });
    expect(typeof events[0]!.data.retry_at).toBe("string");
    expect(events[1]!.data).toEqual({ app_id: t.appId, subscription_id: sub.id });
  });
});
