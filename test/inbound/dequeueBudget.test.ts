/**
 * One dequeue answers at most 8 MB of bodies (a first message larger than that comes alone), as a page of receipts
 * does: twelve 8 MB messages made one 128 MB answer that held the event loop ~1.9 s, and the limits allow 100 × 10 MB.
 * The messages left out stay ready for the next dequeue, and every message is leased exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { inboundTenant, postWebhook } from "./setup.ts";

const MB = 1024 * 1024;

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof inboundTenant>>;
let routeId: string;
const authorization = { Authorization: `Basic ${Buffer.from("sender:s3cret-password-16").toString("base64")}`, "content-type": "application/octet-stream" };

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  t = await inboundTenant(app);
  await t.createQueue("large");
  routeId = (await t.createRoute({ auth: { type: "basic", username: "sender" }, secrets: [{ value: "s3cret-password-16" }], queue: "large", max_body_bytes: 10 * MB })).id;
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

type Message = { lease_id: string; receipt: { id: string; body_base64: string } };
const dequeue = async (max: number): Promise<Message[]> => {
  const res = await app.call("POST", "/v1/pull/large/dequeue", t.token, { max_messages: max });
  expect(res.status).toBe(200);
  return res.body.messages as Message[];
};

describe("dequeue answers", () => {
  it("hold at most 8 MB of bodies; a larger message comes alone; the rest wait for the next dequeue", async () => {
    const sent: string[] = [];
    for (const [i, size] of [3 * MB, 3 * MB, 3 * MB, 9 * MB, 100].entries()) {
      const posted = await postWebhook(app, routeId, Buffer.alloc(size, i + 1), authorization);
      expect(posted.status, JSON.stringify(posted.body)).toBe(202);
      sent.push(posted.body.receipt_id);
    }
    const answers: Message[][] = [];
    for (let n = 0; n < 6; n++) {
      const messages = await dequeue(100);
      if (messages.length === 0) break;
      answers.push(messages);
    }
    const sizes = answers.map((messages) => messages.map((message) => Buffer.from(message.receipt.body_base64, "base64").byteLength));
    // 3 + 3 MB; the third 3 MB would pass 8 MB. Then 3 MB (the 9 MB would pass it), then the 9 MB alone, then the rest.
    expect(sizes).toEqual([[3 * MB, 3 * MB], [3 * MB], [9 * MB], [100]]);
    expect(sizes.every((group) => group.length === 1 || group.reduce((a, b) => a + b, 0) <= 8 * MB)).toBe(true);
    expect(answers.flat().map((message) => message.receipt.id)).toEqual(sent);
    const bodies = answers.flat().map((message) => Buffer.from(message.receipt.body_base64, "base64"));
    expect(bodies.every((body, i) => body.every((byte) => byte === i + 1))).toBe(true);
    const [leased] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.pull_messages where queue = 'large' and state = 'leased'`;
    expect(leased?.n).toBe(5);
  });
});
