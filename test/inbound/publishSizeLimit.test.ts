/**
 * Ingress publish and the event size limit, over HTTP against real Postgres with the worker running: a route may
 * accept bodies larger than HOOKLEDGER_MAX_EVENT_BYTES (its own `max_body_bytes`), but no event is ever larger.
 * A body over the limit is recorded byte-exact and queued like any other, and its publish fails with reason
 * `payload_too_large`; a body at the limit (in decoded bytes, whatever its base64 size) is published.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { inboundTenant, postWebhook } from "./setup.ts";

/** The smallest limit the configuration takes: bodies around it stay cheap to send. */
const MAX_EVENT_BYTES = 1024;

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof inboundTenant>>;
/** Routes by what they do: publish only, publish and queue, queue only. All accept bodies up to 1 MB. */
let routes: { publish: string; both: string; queue: string };

const authorization = { Authorization: `Basic ${Buffer.from("sender:s3cret-password-16").toString("base64")}` };

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true, env: { HOOKLEDGER_MAX_EVENT_BYTES: String(MAX_EVENT_BYTES) } });
  t = await inboundTenant(app);
  await t.createQueue("sized");
  await t.createQueue("sized-only");
  const route = async (body: Record<string, unknown>) =>
    (await t.createRoute({ auth: { type: "basic", username: "sender" }, secrets: [{ value: "s3cret-password-16" }], max_body_bytes: 1024 * 1024, ...body })).id;
  routes = {
    publish: await route({ publish: { app_id: t.appId, event_type: "github.push" } }),
    both: await route({ queue: "sized", publish: { app_id: t.appId, event_type: "stripe.event" } }),
    queue: await route({ queue: "sized-only" }),
  };
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

/** A JSON body of exactly `bytes` bytes. */
const jsonOf = (bytes: number) => {
  const frame = '{"s":""}';
  return `{"s":"${"a".repeat(bytes - frame.length)}"}`;
};

/** Bytes that are not UTF-8, so the event would carry them as base64 (4/3 larger than the body). */
const binaryOf = (bytes: number) => Buffer.alloc(bytes, 0xff);

const publishFailures = (receiptId: string) =>
  db.owner<{ data: { receipt_id: string; reason: string } }[]>`select data from hookledger.ledger where type = 'ingress.publish_failed' and data->>'receipt_id' = ${receiptId}`;

/** Waits for the worker to record the publish failure of a receipt; answers its data. */
async function publishFailureOf(receiptId: string) {
  const [failure] = await eventually(async () => {
    const rows = await publishFailures(receiptId);
    return rows.length > 0 ? rows : undefined;
  }, 15_000, `ingress.publish_failed of ${receiptId}`);
  return failure!.data;
}

/** Waits for the worker to publish a receipt; answers the event. */
const publishedEvent = (receiptId: string) =>
  eventually(async () => {
    const event = await app.call("GET", `/v1/events/${receiptId}`, t.token);
    return event.status === 200 ? event.body : undefined;
  }, 15_000, `event ${receiptId}`);

/** The receipt as the API shows it, its body decoded. */
async function storedBody(routeId: string, receiptId: string): Promise<Buffer> {
  const receipts = await app.call("GET", `/v1/ingress-routes/${routeId}/receipts`, t.token);
  expect(receipts.status).toBe(200);
  const receipt = receipts.body.data.find((item: { id: string }) => item.id === receiptId);
  expect(receipt, receiptId).toBeDefined();
  return Buffer.from(receipt.body_base64, "base64");
}

describe("ingress publish and HOOKLEDGER_MAX_EVENT_BYTES", () => {
  it("records a JSON body one byte over the limit byte-exact, creates no event, and records payload_too_large", async () => {
    const body = jsonOf(MAX_EVENT_BYTES + 1);
    const sent = await postWebhook(app, routes.publish, body, authorization);
    expect(sent.status).toBe(202);

    expect(await publishFailureOf(sent.body.receipt_id)).toEqual({ receipt_id: sent.body.receipt_id, reason: "payload_too_large" });
    expect((await storedBody(routes.publish, sent.body.receipt_id)).toString("utf8")).toBe(body);
    expect((await app.call("GET", `/v1/events/${sent.body.receipt_id}`, t.token)).status).toBe(404);
    const [events] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.events where event_id = ${sent.body.receipt_id}`;
    expect(events?.n).toBe(0);
    // Where a DBA reads publish failures, with the worker as actor.
    const [viewed] = await db.owner<{ data: unknown; actor_kind: string }[]>`
      select data, actor_kind from hookledger_audit.event_log where type = 'ingress.publish_failed' and data->>'receipt_id' = ${sent.body.receipt_id}`;
    expect(viewed).toEqual({ data: { receipt_id: sent.body.receipt_id, reason: "payload_too_large" }, actor_kind: "worker" });
  });

  it("publishes a JSON body exactly at the limit", async () => {
    const body = jsonOf(MAX_EVENT_BYTES);
    const sent = await postWebhook(app, routes.publish, body, authorization);
    expect(sent.status).toBe(202);
    const event = await publishedEvent(sent.body.receipt_id);
    expect(JSON.stringify(event.payload)).toBe(body);
    expect(await publishFailures(sent.body.receipt_id)).toEqual([]);
  });

  it("counts a binary body's decoded bytes: at the limit it is published as base64 larger than the limit, over it it fails", async () => {
    const atLimit = binaryOf(MAX_EVENT_BYTES);
    const published = await postWebhook(app, routes.publish, atLimit, { ...authorization, "content-type": "application/octet-stream" });
    expect(published.status).toBe(202);
    const event = await publishedEvent(published.body.receipt_id);
    expect(event.payload_base64.length).toBeGreaterThan(MAX_EVENT_BYTES);
    expect(Buffer.compare(Buffer.from(event.payload_base64, "base64"), atLimit)).toBe(0);

    const over = binaryOf(MAX_EVENT_BYTES + 1);
    const refused = await postWebhook(app, routes.publish, over, { ...authorization, "content-type": "application/octet-stream" });
    expect(refused.status).toBe(202);
    expect((await publishFailureOf(refused.body.receipt_id)).reason).toBe("payload_too_large");
    expect(Buffer.compare(await storedBody(routes.publish, refused.body.receipt_id), over)).toBe(0);
    expect((await app.call("GET", `/v1/events/${refused.body.receipt_id}`, t.token)).status).toBe(404);
  });

  it("still queues a body over the limit on a route that also publishes, and leaves a queue-only route alone", async () => {
    const body = jsonOf(MAX_EVENT_BYTES * 4);
    const both = await postWebhook(app, routes.both, body, authorization);
    const queued = await postWebhook(app, routes.queue, body, authorization);
    expect([both.status, queued.status]).toEqual([202, 202]);
    expect((await publishFailureOf(both.body.receipt_id)).reason).toBe("payload_too_large");

    for (const [queue, receiptId] of [["sized", both.body.receipt_id], ["sized-only", queued.body.receipt_id]] as const) {
      const pulled = await app.call("POST", `/v1/pull/${queue}/dequeue`, t.token, { max_messages: 10 });
      expect(pulled.status).toBe(200);
      expect(pulled.body.messages.map((message: { receipt: { id: string } }) => message.receipt.id)).toEqual([receiptId]);
      expect(Buffer.from(pulled.body.messages[0].receipt.body_base64, "base64").toString("utf8")).toBe(body);
    }
    // A route that does not publish has no publish job, hence no publish failure.
    expect(await publishFailures(queued.body.receipt_id)).toEqual([]);
  });
});
