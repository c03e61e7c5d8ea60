import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { byJob, queuedDeliveries } from "../support/deliverJobs.ts";
import { outboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof outboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  // No worker: these tests look at what ingestion schedules, not at delivery.
  app = await startTestApp(db, { env: { HOOKLEDGER_MAX_EVENT_BYTES: "2048" } });
  t = await outboundTenant(app, ["invoice.paid", "invoice.voided", "invoice.line.added", "user.created", "order.shipped"]);
});
afterAll(async () => {
  await app?.stop();
  await db.drop();
});

const deliveriesOf = async (eventId: string) => (await app.call("GET", `/v1/events/${eventId}`, t.token)).body.deliveries as { subscription_id: string }[];

describe("fan-out", () => {
  it("counts subscriptions by exact type, wildcard, catch-all, labels and enabled state", async () => {
    const exact = await t.subscribe({ url: "http://127.0.0.1:9/exact", event_types: ["invoice.paid"] });
    const wildcard = await t.subscribe({ url: "http://127.0.0.1:9/wild", event_types: ["invoice.*"] });
    const all = await t.subscribe({ url: "http://127.0.0.1:9/all", event_types: ["*"] });
    await t.subscribe({ url: "http://127.0.0.1:9/users", event_types: ["user.created"] });
    const eu = await t.subscribe({ url: "http://127.0.0.1:9/eu", event_types: ["invoice.*"], labels: { region: "eu" } });
    const disabled = await t.subscribe({ url: "http://127.0.0.1:9/off", event_types: ["*"], enabled: false });

    const paid = await t.send({ event_type: "invoice.paid", event_id: "fan_1" });
    expect(paid.body.deliveries_scheduled).toBe(3);
    expect((await deliveriesOf("fan_1")).map((d) => d.subscription_id).sort()).toEqual([exact.id, wildcard.id, all.id].sort());

    const nested = await t.send({ event_type: "invoice.line.added", event_id: "fan_2", labels: { region: "eu", tier: "gold" } });
    expect(nested.body.deliveries_scheduled).toBe(3);
    expect((await deliveriesOf("fan_2")).map((d) => d.subscription_id).sort()).toEqual([wildcard.id, all.id, eu.id].sort());

    const wrongLabel = await t.send({ event_type: "invoice.voided", event_id: "fan_3", labels: { region: "us" } });
    expect(wrongLabel.body.deliveries_scheduled).toBe(2);

    const nobody = await t.send({ event_type: "order.shipped", event_id: "fan_4" });
    expect(nobody.body.deliveries_scheduled).toBe(1);
    expect((await deliveriesOf("fan_4")).map((d) => d.subscription_id)).not.toContain(disabled.id);

    // Everything of one ingestion is in the ledger, in one entry per event: event.received names each delivery it
    // scheduled (sql/070), and a delivery's own stream begins with its first attempt.
    const entries = await db.owner<{ event_id: string; deliveries: { delivery_id: string; subscription_id: string }[] }[]>`
      select data->>'event_id' as event_id, data->'deliveries' as deliveries
      from hookledger.ledger where org_id = ${t.orgId} and type = 'event.received' order by position`;
    expect(entries.map((entry) => entry.event_id)).toEqual(["fan_1", "fan_2", "fan_3", "fan_4"]);
    const fan2 = entries[1]?.deliveries ?? [];
    expect(fan2.map((d) => d.subscription_id).sort()).toEqual([wildcard.id, all.id, eu.id].sort());
    const projected = await db.owner<{ delivery_id: string; subscription_id: string }[]>`
      select delivery_id, subscription_id from hookledger.deliveries where org_id = ${t.orgId} and event_id = 'fan_2'`;
    expect(new Map(projected.map((d) => [d.delivery_id, d.subscription_id]))).toEqual(new Map(fan2.map((d) => [d.delivery_id, d.subscription_id])));
    const [others] = await db.owner<{ n: number }[]>`
      select count(*)::int as n from hookledger.ledger where org_id = ${t.orgId} and (type like 'delivery.%' or stream like 'delivery:%')`;
    expect(others?.n).toBe(0);
    // ...and every delivery in a batch delivery job, committed with them: one job per accepted request here (the
    // requests came one after another), each item naming the tenant and the first attempt.
    const jobs = byJob(await queuedDeliveries(db.owner));
    expect(jobs.map((job) => job.length)).toEqual([3, 3, 2, 1]);
    const items = jobs.flat();
    expect(new Set(items.map((item) => item.org_id))).toEqual(new Set([t.orgId]));
    expect(items.every((item) => item.attempt === 1)).toBe(true);
    expect(new Set(items.map((item) => item.delivery_id)).size).toBe(9);
  });
});

describe("idempotent ingestion", () => {
  it("returns the original result for the same event_id and body, and 409 for a different body", async () => {
    const first = await t.send({ event_id: "idem_1", payload: { a: 1, b: 2 } });
    expect(first.status).toBe(202);
    const again = await t.send({ event_id: "idem_1", payload: { b: 2, a: 1 } }); // same JSON, keys reordered
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    const different = await t.send({ event_id: "idem_1", payload: { a: 2 } });
    expect(different.status).toBe(409);
    expect(different.body.type).toBe("urn:hookledger:problem:idempotency-conflict");
    const [row] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.events where event_id = 'idem_1'`;
    expect(row?.n).toBe(1);
  });

  it("lets exactly one of several concurrent requests with a new event_id create the event", async () => {
    const results = await Promise.all([0, 1, 2, 3, 4].map(() => t.send({ event_id: "idem_race", payload: { n: 1 } })));
    expect(results.map((r) => r.status)).toEqual([202, 202, 202, 202, 202]);
    expect(new Set(results.map((r) => JSON.stringify(r.body))).size).toBe(1);
    expect(results.filter((r) => r.headers.get("idempotent-replayed") === "true")).toHaveLength(4);
    const [row] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger where stream = 'event:idem_race'`;
    expect(row?.n).toBe(1);
  });
});

describe("payload rules", () => {
  it("records payload_sha256 as the SHA-256 of the delivered bytes, and the request fingerprint apart from it", async () => {
    const sha = (bytes: string | Buffer) => createHash("sha256").update(bytes).digest("hex");
    expect((await t.send({ event_id: "hash_json", payload: { b: 2, a: 1 } })).status).toBe(202);
    expect((await t.send({ event_id: "hash_bin", payload: undefined, payload_base64: Buffer.from([0, 1, 2, 255]).toString("base64"), content_type: "application/octet-stream" })).status).toBe(202);
    const rows = await db.owner<{ event_id: string; payload_sha256: string; request_fingerprint: string }[]>`
      select data->>'event_id' as event_id, data->>'payload_sha256' as payload_sha256, data->>'request_fingerprint' as request_fingerprint
      from hookledger.ledger where org_id = ${t.orgId} and type = 'event.received' and data->>'event_id' like 'hash_%' order by position`;
    expect(rows[0]).toMatchObject({ event_id: "hash_json", payload_sha256: sha('{"b":2,"a":1}') });
    expect(rows[1]).toMatchObject({ event_id: "hash_bin", payload_sha256: sha(Buffer.from([0, 1, 2, 255])) });
    expect(rows.every((row) => /^[0-9a-f]{64}$/.test(row.request_fingerprint) && row.request_fingerprint !== row.payload_sha256)).toBe(true);
  });

  it("refuses payloads that do not match the event type's JSON Schema, listing the violations", async () => {
    const schema = { type: "object", required: ["amount", "currency"], properties: { amount: { type: "integer", minimum: 0 }, currency: { type: "string", pattern: "^[A-Z]{3}$" } } };
    const created = await app.call("POST", `/v1/applications/${t.appId}/event-types`, t.token, { name: "payment.captured", schema });
    expect(created.status).toBe(201);
    const bad = await t.send({ event_type: "payment.captured", payload: { amount: -5, currency: "euro" } });
    expect(bad.status).toBe(422);
    expect(bad.body.errors).toEqual(
      expect.arrayContaining([
        { field: "payload.amount", message: "must be >= 0" },
        { field: "payload.currency", message: 'must match pattern "^[A-Z]{3}$"' },
      ]),
    );
    const good = await t.send({ event_type: "payment.captured", payload: { amount: 5, currency: "EUR" } });
    expect(good.status).toBe(202);
    const invalidSchema = await app.call("POST", `/v1/applications/${t.appId}/event-types`, t.token, { name: "broken.schema", schema: { type: "nonsense" } });
    expect(invalidSchema.status).toBe(400);
    expect(invalidSchema.body.errors[0].field).toBe("schema/type");
  });

  it("refuses unknown event types, unknown applications and ambiguous payloads", async () => {
    const unknownType = await t.send({ event_type: "nobody.registered" });
    expect(unknownType.body.errors).toEqual([{ field: "event_type", message: expect.stringContaining("create it first") }]);
    const unknownApp = await t.send({ app_id: "00000000-0000-4000-8000-000000000000" });
    expect(unknownApp.body.errors).toEqual([{ field: "app_id", message: "no such application" }]);
    const two = await t.send({ payload_text: "also" });
    expect(two.body.errors).toEqual([{ field: "payload", message: expect.stringContaining("exactly one") }]);
    const binaryWithoutType = await t.send({ payload: undefined, payload_base64: "AAEC" });
    expect(binaryWithoutType.body.errors).toEqual([{ field: "content_type", message: "required with payload_base64" }]);
    const hostile = await t.send({ event_id: "evt with spaces", event_type: "Invoice Paid", labels: { "bad key!": "x" }, occurred_at: "yesterday" });
    expect(hostile.status).toBe(400);
    expect(hostile.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(["event_id", "event_type", "labels.bad key!", "occurred_at"]);
  });

  it("answers 413 with the limit for a payload over HOOKLEDGER_MAX_EVENT_BYTES, and accepts nothing", async () => {
    const big = await t.send({ event_id: "too_big", payload: { blob: "x".repeat(3000) } });
    expect(big.status).toBe(413);
    expect(big.body).toMatchObject({ type: "urn:hookledger:problem:payload-too-large", max_bytes: 2048 });
    expect((await app.call("GET", "/v1/events/too_big", t.token)).status).toBe(404);
  });

  it("warns when an event type is deprecated but still accepts the event", async () => {
    await app.call("PATCH", `/v1/applications/${t.appId}/event-types/order.shipped`, t.token, { deprecated: true });
    const sent = await t.send({ event_type: "order.shipped" });
    expect(sent.status).toBe(202);
    expect(sent.headers.get("warning")).toContain("deprecated");
  });
});
