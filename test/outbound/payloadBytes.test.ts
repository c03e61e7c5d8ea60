/**
 * What a subscriber receives as the delivery body, as the README states it: `payload_text` and `payload_base64`
 * arrive byte for byte as the producer sent them; a JSON `payload` arrives as its compact JSON re-serialisation.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let t: Awaited<ReturnType<typeof outboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true });
  receiver = await startReceiver();
  t = await outboundTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

/** POSTs an event whose request body is exactly `rawBody` (JSON.stringify would already normalise numbers). */
async function sendRaw(rawBody: string): Promise<number> {
  const response = await app.fetch("/v1/events", {
    method: "POST",
    headers: { authorization: `Bearer ${t.token}`, "content-type": "application/json" },
    body: rawBody,
  });
  return response.status;
}

describe("delivery body", () => {
  it("payload_text with content_type application/json arrives byte for byte", async () => {
    await t.subscribe({ url: receiver.url("/text"), event_types: ["invoice.paid"] });
    const producerJson = String.raw`{"price":1.50,"name":"caf\u00e9","b":1,"2":0}`;
    const body = JSON.stringify({ app_id: t.appId, event_type: "invoice.paid", event_id: "bytes_text", payload_text: producerJson, content_type: "application/json" });
    expect(await sendRaw(body)).toBe(202);
    const [request] = await receiver.waitFor(1, "/text");
    expect(request!.body.equals(Buffer.from(producerJson, "utf8"))).toBe(true);
    expect(request!.headers["content-type"]).toBe("application/json");
  });

  it("payload_base64 arrives as the decoded bytes, whatever they are", async () => {
    await t.subscribe({ url: receiver.url("/binary"), event_types: ["invoice.voided"] });
    const bytes = Buffer.from([0x00, 0xff, 0x7b, 0x22, 0x31, 0x2e, 0x35, 0x30, 0x0a]);
    const body = JSON.stringify({ app_id: t.appId, event_type: "invoice.voided", event_id: "bytes_b64", payload_base64: bytes.toString("base64"), content_type: "application/octet-stream" });
    expect(await sendRaw(body)).toBe(202);
    const [request] = await receiver.waitFor(1, "/binary");
    expect(request!.body.equals(bytes)).toBe(true);
  });

  it("refuses payload_base64 that is not its own bytes' canonical base64, instead of delivering other bytes", async () => {
    const before = await db.owner`select count(*)::int as n from hookledger.events`;
    // "1" decoded to nothing, "AAAAA" to three NULs, "YWJj=" to "abc", "YR==" to "a" (its last bits dropped).
    for (const text of ["1", "AAAAA", "YWJj=", "YR==", "YWJj\n", "YW Jj"]) {
      const response = await app.call("POST", "/v1/events", t.token, { app_id: t.appId, event_type: "invoice.voided", payload_base64: text, content_type: "application/octet-stream" });
      expect(response.status, text).toBe(400);
      expect(response.body.errors, text).toEqual([{ field: "payload_base64", message: "expected standard base64: A–Z, a–z, 0–9, + and /, padded with = to a multiple of 4 characters" }]);
    }
    expect(await db.owner`select count(*)::int as n from hookledger.events`).toEqual(before);
    // The empty payload is "" and still accepted.
    expect((await app.call("POST", "/v1/events", t.token, { app_id: t.appId, event_type: "invoice.voided", payload_base64: "", content_type: "application/octet-stream" })).status).toBe(202);
  });

  it("a JSON payload arrives re-serialised: compact, numbers and escapes normalised, integer-like keys first", async () => {
    await t.subscribe({ url: receiver.url("/json"), event_types: ["user.created"] });
    const body = String.raw`{"app_id":"${t.appId}","event_type":"user.created","event_id":"bytes_json","payload": { "price" : 1.50, "name":"caf\u00e9", "b":1, "2":0 }}`;
    expect(await sendRaw(body)).toBe(202);
    const [request] = await receiver.waitFor(1, "/json");
    expect(request!.body.toString("utf8")).toBe('{"2":0,"price":1.5,"name":"café","b":1}');
    expect(request!.headers["content-type"]).toBe("application/json");
  });
});
