/**
 * A page of receipts stays a size a client and the service can hold: at most 8 MB of bodies, however large each
 * (a route may accept 10 MB) and whatever `limit` asks; the cursor carries on where the bytes ran out, and every
 * receipt is listed once, byte-exact.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { inboundTenant, postWebhook } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof inboundTenant>>;

const authorization = { Authorization: `Basic ${Buffer.from("sender:s3cret-password-16").toString("base64")}` };

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: false });
  t = await inboundTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

describe("GET /v1/ingress-routes/{id}/receipts", () => {
  it("cuts a page at 8 MB of bodies and carries on with the cursor, listing each receipt once and byte-exact", async () => {
    await t.createQueue("large");
    const route = await t.createRoute({ auth: { type: "basic", username: "sender" }, secrets: [{ value: "s3cret-password-16" }], max_body_bytes: 4 * 1024 * 1024, queue: "large" });
    const bodies = ["a", "b", "c", "d"].map((letter) => Buffer.alloc(3 * 1024 * 1024, letter));
    for (const body of bodies) expect((await postWebhook(app, route.id, body, { ...authorization, "content-type": "application/octet-stream" })).status).toBe(202);

    const first = await app.call("GET", `/v1/ingress-routes/${route.id}/receipts?limit=250`, t.token);
    expect(first.status).toBe(200);
    const firstLetters = (page: { body: { data: { body_base64: string }[] } }) => page.body.data.map((receipt) => String.fromCharCode(Buffer.from(receipt.body_base64, "base64")[0] as number)).join("");
    // Newest first: d and c are 6 MB; b would make 9 MB, past the 8 MB.
    expect(firstLetters(first)).toBe("dc");
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await app.call("GET", `/v1/ingress-routes/${route.id}/receipts?limit=250&after=${first.body.next_cursor}`, t.token);
    expect(firstLetters(second)).toBe("ba");
    expect(Buffer.from(second.body.data[1].body_base64, "base64").equals(bodies[0] as Buffer)).toBe(true);
    expect(second.body.next_cursor).toBeNull();

  });
});
