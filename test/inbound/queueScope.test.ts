/** Queue-scoped tokens: a consumer token limited to named pull queues sees no others. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { inboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof inboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  t = await inboundTenant(app);
  await t.createQueue("alpha");
  await t.createQueue("beta");
});
afterAll(async () => {
  await app?.stop();
  await db.drop();
});

describe("queue-scoped tokens", () => {
  it("pull from their queues and get 404 for any other", async () => {
    const created = await app.call("POST", "/v1/tokens", t.token, { label: "alpha consumer", scopes: ["pull:consume"], queues: ["alpha"] });
    expect(created.status).toBe(201);
    expect(created.body.queues).toEqual(["alpha"]);
    const consumer = created.body.token as string;
    const own = await app.call("POST", "/v1/pull/alpha/dequeue", consumer, { max_messages: 1 });
    expect(own.status).toBe(200);
    expect(own.body.messages).toEqual([]);
    for (const path of ["/v1/pull/beta/dequeue", "/v1/pull/beta/ack", "/v1/pull/beta/nack", "/v1/pull/beta/extend"]) {
      const other = await app.call("POST", path, consumer, path.endsWith("dequeue") ? { max_messages: 1 } : { lease_ids: ["00000000-0000-4000-8000-000000000000"] });
      expect({ path, status: other.status }).toEqual({ path, status: 404 });
    }
    // An unscoped consumer token reaches every queue.
    const everyQueue = await app.call("POST", "/v1/tokens", t.token, { label: "any consumer", scopes: ["pull:consume"] });
    expect(everyQueue.body.queues).toBeNull();
    expect((await app.call("POST", "/v1/pull/beta/dequeue", everyQueue.body.token, { max_messages: 1 })).status).toBe(200);
  });

  it("refuses malformed queue lists", async () => {
    const bad = await app.call("POST", "/v1/tokens", t.token, { label: "bad", scopes: ["pull:consume"], queues: ["Not A Queue"] });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([{ field: "queues.0", message: "expected a pull queue name" }]);
    const empty = await app.call("POST", "/v1/tokens", t.token, { label: "empty", scopes: ["pull:consume"], queues: [] });
    expect(empty.body.errors).toEqual([{ field: "queues", message: "name at least one queue, or omit the field" }]);
    const repeated = await app.call("POST", "/v1/tokens", t.token, { label: "twice", scopes: ["pull:consume"], queues: ["inbox", "inbox"] });
    expect(repeated.status).toBe(400);
    expect(repeated.body.errors).toEqual([{ field: "queues", message: "queues must not repeat" }]);
  });
});
