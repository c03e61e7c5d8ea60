/**
 * Names and ids as Svix and Hook0 users have them: event types of letters, digits, `_` and `-` in dot-joined parts
 * (`ping`, `Invoice.Paid`, `user-created.v1`), matched exactly and by `prefix.*`, and event ids with dots
 * (`order.1001`). Both were refused (dotted lower-case names only, ids without `.`; sweep 18), so catalogues and
 * producers' ids could not move over as they were.
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
  t = await outboundTenant(app, ["ping", "Invoice.Paid", "invoice.paid", "user-created.v1", "api.2fa_enabled"]);
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

describe("Svix-style names", () => {
  it("are event types, matched exactly (case included) and by prefix.*", async () => {
    await t.subscribe({ url: receiver.url("/upper"), event_types: ["Invoice.Paid"] });
    await t.subscribe({ url: receiver.url("/users"), event_types: ["user-created.*", "ping"] });
    for (const [id, type] of [["n_upper", "Invoice.Paid"], ["n_lower", "invoice.paid"], ["n_user", "user-created.v1"], ["n_ping", "ping"], ["n_2fa", "api.2fa_enabled"]]) {
      expect((await t.send({ event_id: id, event_type: type })).status, type).toBe(202);
    }
    const upper = await receiver.waitFor(1, "/upper");
    const users = await receiver.waitFor(2, "/users");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(upper.map((r) => r.headers["x-hookledger-event-type"])).toEqual(["Invoice.Paid"]);
    expect(users.map((r) => r.headers["x-hookledger-event-type"]).sort()).toEqual(["ping", "user-created.v1"]);
    const listed = await app.call("GET", `/v1/applications/${t.appId}/event-types/user-created.v1`, t.token);
    expect(listed.status).toBe(200);
  });

  it("still refuse what is not a name or pattern", async () => {
    for (const name of ["", ".ping", "ping.", "a..b", "a b", "a/b", "*", "a.*", "é.paid"]) {
      const created = await app.call("POST", `/v1/applications/${t.appId}/event-types`, t.token, { name });
      expect(created.status, name).toBe(400);
    }
    const sub = await app.call("POST", "/v1/subscriptions", t.token, { app_id: t.appId, url: receiver.url("/x"), event_types: ["a.**", "a*", ".*"] });
    expect(sub.body.errors.map((e: { field: string }) => e.field)).toEqual(["event_types.0", "event_types.1", "event_types.2"]);
  });
});

describe("event ids", () => {
  it("take dots, and can be read back by them; . and .. alone are refused", async () => {
    expect((await t.send({ event_id: "order.1001", event_type: "ping" })).status).toBe(202);
    const read = await app.call("GET", "/v1/events/order.1001", t.token);
    expect([read.status, read.body.id]).toEqual([200, "order.1001"]);
    for (const id of [".", ".."]) {
      const refused = await t.send({ event_id: id, event_type: "ping" });
      expect(refused.status).toBe(400);
      expect(refused.body.errors).toEqual([{ field: "event_id", message: expect.stringContaining("not . or .. alone") }]);
    }
  });
});
