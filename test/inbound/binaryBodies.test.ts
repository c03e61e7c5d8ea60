/**
 * Every answer that carries bodies — a dequeue, a page of receipts, a page of dead letters — carries them byte-exact:
 * a few MiB of binary holding all 256 byte values, its base64 on one line and padded as `Buffer#toString("base64")`
 * writes it (Postgres writes that base64 now, and its `encode` breaks lines every 76 characters). Two bodies fill
 * an answer past a megabyte of JSON, so it is serialised and sent in pieces (jsonInTurns.ts), and comes whole.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are parsed JSON */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { seededRandom } from "../support/seededRandom.ts";
import { inboundTenant, postWebhook } from "./setup.ts";

const MB = 1024 * 1024;

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof inboundTenant>>;
let routeId: string;
const authorization = { Authorization: `Basic ${Buffer.from("sender:s3cret-password-16").toString("base64")}`, "content-type": "application/octet-stream" };

/** `size` bytes: every byte value first, in order, then seeded random ones (odd sizes end in base64 padding). */
function binaryBody(size: number, seed: number): Buffer {
  const random = seededRandom(seed);
  const body = Buffer.alloc(size);
  for (let i = 0; i < size; i++) body[i] = i < 256 ? i : Math.floor(random() * 256);
  return body;
}
const bodies = [binaryBody(3 * MB + 1, 1), binaryBody(2 * MB + 2, 2)];

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: false });
  t = await inboundTenant(app);
  await t.createQueue("binary", { max_deliveries: 1 });
  routeId = (await t.createRoute({ auth: { type: "basic", username: "sender" }, secrets: [{ value: "s3cret-password-16" }], queue: "binary", max_body_bytes: 4 * MB })).id;
  for (const body of bodies) {
    const posted = await postWebhook(app, routeId, body, authorization);
    expect(posted.status, JSON.stringify(posted.body)).toBe(202);
  }
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

/** The answer's JSON, after checking it came whole: JSON, with its length, and as JSON.stringify writes it. */
async function answer(path: string, init: RequestInit = {}): Promise<any> {
  const response = await app.fetch(path, { ...init, headers: { authorization: `Bearer ${t.token}`, "content-type": "application/json" } });
  const text = await response.text();
  expect(response.status, text.slice(0, 500)).toBe(200);
  expect(response.headers.get("content-type")).toBe("application/json");
  expect(response.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{32}$/);
  // Sent with its length, or chunked (Bun's server streams an answer built in pieces so: jsonInTurns.ts).
  const length = response.headers.get("content-length");
  if (length === null) expect(response.headers.get("transfer-encoding")).toBe("chunked");
  else expect(length).toBe(String(Buffer.byteLength(text)));
  const parsed = JSON.parse(text);
  expect(JSON.stringify(parsed)).toBe(text);
  return parsed;
}

/** The bodies of an answer's receipts, as sent: their base64 exactly as Node writes it, and their bytes. */
function expectBodies(receipts: { body_base64: string }[], expected: Buffer[]): void {
  expect(receipts.map((receipt) => receipt.body_base64.length)).toEqual(expected.map((body) => body.toString("base64").length));
  receipts.forEach((receipt, i) => {
    expect(receipt.body_base64 === (expected[i] as Buffer).toString("base64")).toBe(true);
    expect(Buffer.from(receipt.body_base64, "base64").equals(expected[i] as Buffer)).toBe(true);
  });
}

describe("binary bodies of a few MiB with every byte value", () => {
  it("come byte-exact in the receipts list (newest first)", async () => {
    const page = await answer(`/v1/ingress-routes/${routeId}/receipts?limit=10`);
    expect(page.next_cursor).toBeNull();
    expectBodies(page.data, [...bodies].reverse());
  });

  it("come byte-exact in a dequeue, and in the dead-letter list once they had their deliveries", async () => {
    const leased = await answer("/v1/pull/binary/dequeue", { method: "POST", body: JSON.stringify({ max_messages: 10, lease_seconds: 1 }) });
    expectBodies(
      leased.messages.map((message: { receipt: { body_base64: string } }) => message.receipt),
      bodies,
    );
    const nacked = await app.call("POST", "/v1/pull/binary/nack", t.token, { lease_ids: leased.messages.map((message: { lease_id: string }) => message.lease_id) });
    expect(nacked.body.done).toHaveLength(2);
    // max_deliveries 1: the next dequeue dead-letters both instead of handing them out again.
    expect((await app.call("POST", "/v1/pull/binary/dequeue", t.token, { max_messages: 10 })).body.messages).toEqual([]);

    const dead = await answer("/v1/pull/binary/dead-letters?limit=10");
    expect(dead.next_cursor).toBeNull();
    expect(dead.data).toHaveLength(2);
    const byReceipt = new Map(dead.data.map((letter: { receipt: { id: string; body_base64: string } }) => [letter.receipt.id, letter.receipt]));
    const sent = (await answer(`/v1/ingress-routes/${routeId}/receipts?limit=10`)).data.map((receipt: { id: string }) => receipt.id).reverse();
    expectBodies(
      sent.map((id: string) => byReceipt.get(id)),
      bodies,
    );
  });
});
