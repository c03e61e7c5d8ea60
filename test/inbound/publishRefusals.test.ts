/**
 * Receipts that cannot become an event as they came are recorded and queued byte-exact, and not published:
 * a Content-Type that is not a media type (a DEL byte in it made every delivery of the event fail before it was
 * sent, and opened the endpoint's circuit), and a compressed body (published as its gzip bytes under
 * `application/json`, delivered without the coding). And a published body keeps a leading byte-order mark.
 */
import { connect } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { inboundTenant, postWebhook } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof inboundTenant>>;
let routeId: string;

const authorization = { Authorization: `Basic ${Buffer.from("sender:s3cret-password-16").toString("base64")}` };

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true });
  t = await inboundTenant(app);
  await t.createQueue("kept");
  routeId = (await t.createRoute({ auth: { type: "basic", username: "sender" }, secrets: [{ value: "s3cret-password-16" }], queue: "kept", publish: { app_id: t.appId, event_type: "github.push" } })).id;
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

/**
 * POST /in/{route} over a raw socket, headers written byte for byte (fetch refuses a DEL in a header value, as a
 * sender need not); answers the receipt id.
 */
function rawPost(contentType: string, body: string): Promise<{ status: number; receiptId: string | undefined }> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(app.baseUrl).port), "127.0.0.1");
    let received = "";
    socket.on("connect", () =>
      socket.write(
        Buffer.from(
          [`POST /in/${routeId} HTTP/1.1`, "Host: 127.0.0.1", `Authorization: ${authorization.Authorization}`, `Content-Type: ${contentType}`, `Content-Length: ${Buffer.byteLength(body)}`, "Connection: close", "", body].join("\r\n"),
          "latin1",
        ),
      ),
    );
    socket.on("data", (chunk) => (received += chunk.toString("latin1")));
    socket.on("error", reject);
    socket.on("close", () => {
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1]), receiptId: /"receipt_id":"([^"]+)"/.exec(received)?.[1] });
    });
  });
}

async function publishFailureOf(receiptId: string): Promise<string> {
  const [failure] = await eventually(async () => {
    const rows = await db.owner<{ reason: string }[]>`select data->>'reason' as reason from hookledger.ledger where type = 'ingress.publish_failed' and data->>'receipt_id' = ${receiptId}`;
    return rows.length > 0 ? rows : undefined;
  }, 15_000, `ingress.publish_failed of ${receiptId}`);
  return failure!.reason;
}

const publishedEvent = (receiptId: string) =>
  eventually(async () => {
    const event = await app.call("GET", `/v1/events/${receiptId}`, t.token);
    return event.status === 200 ? event.body : undefined;
  }, 15_000, `event ${receiptId}`);

async function storedBody(receiptId: string): Promise<Buffer> {
  const receipts = await app.call("GET", `/v1/ingress-routes/${routeId}/receipts`, t.token);
  const receipt = receipts.body.data.find((item: { id: string }) => item.id === receiptId);
  expect(receipt, receiptId).toBeDefined();
  return Buffer.from(receipt.body_base64, "base64");
}

describe("receipts that are not published", () => {
  it("a Content-Type that is not a media type: recorded and queued, not published (invalid_content_type)", async () => {
    for (const contentType of ["text/plain\x7f", "application/json; charset=\x7futf-8", "json", "a/b c", "text/plain; x=\xe9\xe9"]) {
      const sent = await rawPost(contentType, '{"ok":true}');
      // Node's HTTP parser refuses a DEL in a header value itself (400, nothing recorded); Bun's lets it through.
      if (sent.status === 400 && contentType.includes("\x7f")) continue;
      expect(sent.status).toBe(202);
      const receiptId = sent.receiptId as string;
      expect(await publishFailureOf(receiptId)).toBe("invalid_content_type");
      expect((await storedBody(receiptId)).toString("utf8")).toBe('{"ok":true}');
      expect((await app.call("GET", `/v1/events/${receiptId}`, t.token)).status).toBe(404);
    }
    // A media type with parameters is still one.
    const fine = await postWebhook(app, routeId, '{"ok":1}', { ...authorization, "content-type": 'application/json; charset="utf-8"' });
    expect((await publishedEvent(fine.body.receipt_id)).payload).toEqual({ ok: 1 });
  });

  it("a compressed body: recorded and queued byte-exact, not published (content_encoded); identity is no coding", async () => {
    const gzipped = gzipSync(Buffer.from('{"compressed":true}'));
    const sent = await postWebhook(app, routeId, gzipped, { ...authorization, "content-encoding": "gzip" });
    expect(sent.status).toBe(202);
    expect(await publishFailureOf(sent.body.receipt_id)).toBe("content_encoded");
    expect(Buffer.compare(await storedBody(sent.body.receipt_id), gzipped)).toBe(0);

    const plain = await postWebhook(app, routeId, '{"plain":true}', { ...authorization, "content-encoding": "identity" });
    expect((await publishedEvent(plain.body.receipt_id)).payload).toEqual({ plain: true });
  });

  it("every one of them is on the route's queue, as it came", async () => {
    const pulled = await app.call("POST", "/v1/pull/kept/dequeue", t.token, { max_messages: 100 });
    expect(pulled.status).toBe(200);
    const types = pulled.body.messages.map((message: { receipt: { content_type: string | null } }) => message.receipt.content_type);
    expect(types).toEqual(expect.arrayContaining(["json", "a/b c", "text/plain; x=\xe9\xe9"]));
    expect(pulled.body.messages.length).toBeGreaterThanOrEqual(6);
  });
});

describe("published bodies", () => {
  it("keep a leading byte-order mark: the event's payload is the body's bytes", async () => {
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"bom":1}')]);
    const json = await postWebhook(app, routeId, withBom, authorization);
    const event = await publishedEvent(json.body.receipt_id);
    // Not JSON with the mark in front (JSON.parse refuses it): text, byte-exact.
    expect(event.payload_text).toBe('\ufeff{"bom":1}');
    expect(Buffer.from(event.payload_text, "utf8").equals(withBom)).toBe(true);

    const text = await postWebhook(app, routeId, Buffer.from("\ufeffhello"), { ...authorization, "content-type": "text/plain" });
    expect((await publishedEvent(text.body.receipt_id)).payload_text).toBe("\ufeffhello");
  });
});
