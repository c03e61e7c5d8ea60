/**
 * Pull queues over HTTP: leases, redelivery after expiry, nack and extend, the dead-letter list (replay, purge),
 * long polling, concurrent consumers, consumer-only tokens, and projection rebuilds.
 */
import { createHash, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withTenant } from "../../src/db/tenant.ts";
import { STREAM_DOES_NOT_EXIST } from "../../src/ledger/append.ts";
import { rebuildProjectionForAll } from "../../src/ledger/rebuildAll.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { inboundTenant, postWebhook } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof inboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  // Hundreds of webhooks from one loopback address: the per-IP limit is not what these tests are about.
  app = await startTestApp(db);
  t = await inboundTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const auth = { Authorization: `Basic ${Buffer.from("hooks:pw-0123456789abcdef").toString("base64")}` };

/** A queue fed by a basic-auth route, and a way to push n messages through the public endpoint. */
async function queueWithRoute(name: string, settings: Record<string, unknown> = {}) {
  await t.createQueue(name, settings);
  const route = await t.createRoute({ auth: { type: "basic", username: "hooks" }, queue: name, secrets: [{ value: "pw-0123456789abcdef" }] });
  /** Sends n webhooks, ten at a time. */
  const send = async (n: number, prefix = "m") => {
    for (let start = 0; start < n; start += 10) {
      const batch = Array.from({ length: Math.min(10, n - start) }, (_, i) => postWebhook(app, route.id, JSON.stringify({ id: `${prefix}${start + i}` }), auth));
      for (const response of await Promise.all(batch)) expect(response.status).toBe(202);
    }
  };
  const dequeue = async (body: Record<string, unknown> = {}, token = t.token) => {
    const response = await app.call("POST", `/v1/pull/${name}/dequeue`, token, body);
    expect(response.status).toBe(200);
    return response.body.messages as { id: string; lease_id: string; delivery: number; receipt: { body_base64: string } }[];
  };
  const call = (action: string, body: Record<string, unknown>, token = t.token) => app.call("POST", `/v1/pull/${name}/${action}`, token, body);
  const depth = async () => (await app.call("GET", `/v1/pull-queues/${name}`, t.token)).body.depth;
  return { route, send, dequeue, call, depth };
}

/**
 * Appends n accepted requests and their queue messages straight to the ledger in one transaction (hundreds of HTTP
 * round trips would only slow the test down), in the shape recorded before sql/073 — a `pull.message_enqueued` of
 * its own per message —, which projects into the same rows as today's receipts naming their message. `dead`: each
 * message is then dead-lettered, as a dequeue past its max_deliveries would do.
 */
async function seedMessages(queue: string, routeId: string, n: number, options: { dead?: boolean; prefix?: string } = {}): Promise<string[]> {
  const messageIds: string[] = [];
  await withTenant(app.ctx.sql, t.orgId, (tx) =>
    app.ctx.ledger.recordMany(
      tx,
      Array.from({ length: n }, (_, i) => {
        const receiptId = `rcpt_${options.prefix ?? "seed"}${String(i).padStart(19, "0")}`;
        const messageId = randomUUID();
        messageIds.push(messageId);
        const body = Buffer.from(JSON.stringify({ seeded: i }));
        return [
          {
            stream: `ingress:${receiptId}`,
            expectedStreamVersion: STREAM_DOES_NOT_EXIST,
            entries: [{
              type: "ingress.received" as const,
              data: {
                receipt_id: receiptId, route_id: routeId, content_type: "application/json", headers: {}, body_base64: body.toString("base64"),
                body_sha256: createHash("sha256").update(body).digest("hex"), verification: { method: "basic" as const }, publish: null, queue,
              },
            }],
          },
          {
            stream: `pull_message:${messageId}`,
            expectedStreamVersion: STREAM_DOES_NOT_EXIST,
            entries: [
              { type: "pull.message_enqueued" as const, data: { message_id: messageId, queue, receipt_id: receiptId } },
              ...(options.dead ? [{ type: "pull.message_dead_lettered" as const, data: { message_id: messageId, deliveries: 1 } }] : []),
            ],
          },
        ];
      }).flat(),
    ),
  );
  return messageIds;
}

describe("leases", () => {
  it("redelivers a message whose lease expired, and refuses the stale lease", async () => {
    const q = await queueWithRoute("expiry");
    await q.send(1);
    const [first] = await q.dequeue({ lease_seconds: 1 });
    expect(first).toMatchObject({ delivery: 1 });
    expect(await q.dequeue()).toEqual([]);
    expect(await q.depth()).toMatchObject({ ready: 0, leased: 1 });
    await sleep(1100);
    expect(await q.depth()).toMatchObject({ ready: 1, leased: 0 });
    const [second] = await q.dequeue({ lease_seconds: 30 });
    expect(second).toMatchObject({ id: first!.id, delivery: 2 });
    expect(second!.lease_id).not.toBe(first!.lease_id);
    expect((await q.call("ack", { lease_ids: [first!.lease_id] })).body).toEqual({ done: [], lost: [first!.lease_id] });
    expect((await q.call("ack", { lease_ids: [second!.lease_id] })).body).toEqual({ done: [second!.lease_id], lost: [] });
    expect(await q.dequeue()).toEqual([]);

    // The receipt's entry enqueued the message (sql/073); the message's own stream begins with its first lease.
    const [receipt] = await db.owner<{ message_id: string; queue: string }[]>`
      select data->>'message_id' as message_id, data->>'queue' as queue from hookledger.ledger
      where type = 'ingress.received' and data->>'message_id' = ${first!.id}`;
    expect(receipt).toEqual({ message_id: first!.id, queue: "expiry" });
    const history = await db.owner<{ type: string }[]>`select type from hookledger.ledger where stream = ${`pull_message:${first!.id}`} order by version`;
    expect(history.map((row) => row.type)).toEqual(["pull.message_leased", "pull.message_leased", "pull.message_acked"]);
  });

  it("makes a nacked message visible again after its delay, and extends a lease", async () => {
    const q = await queueWithRoute("nack");
    await q.send(2);
    const [a, b] = await q.dequeue({ lease_seconds: 1 });
    expect((await q.call("nack", { lease_ids: [a!.lease_id], delay_seconds: 0 })).body.done).toEqual([a!.lease_id]);
    expect((await q.call("extend", { lease_ids: [b!.lease_id], lease_seconds: 60 })).body.done).toEqual([b!.lease_id]);
    await sleep(1100);
    // a came back at once; b's extended lease still holds.
    expect((await q.dequeue()).map((m) => m.id)).toEqual([a!.id]);
    const delayed = await q.dequeue();
    expect(delayed).toEqual([]);
    expect((await q.call("nack", { lease_ids: [b!.lease_id], delay_seconds: 30 })).body.done).toEqual([b!.lease_id]);
    expect(await q.dequeue()).toEqual([]);
    expect(await q.depth()).toMatchObject({ ready: 0, delayed: 1, leased: 1 });
  });

  it("long-polls until a message arrives", async () => {
    const q = await queueWithRoute("longpoll");
    const started = Date.now();
    const polling = q.dequeue({ wait_seconds: 5 });
    await sleep(400);
    await q.send(1);
    const messages = await polling;
    expect(messages).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(3000);
    const empty = Date.now();
    expect(await q.dequeue({ wait_seconds: 1 })).toEqual([]);
    expect(Date.now() - empty).toBeGreaterThanOrEqual(900);
  });

  it("never hands one message to two concurrent consumers", async () => {
    const q = await queueWithRoute("concurrent", { lease_seconds: 120 });
    await seedMessages("concurrent", q.route.id, 200);
    // Six consumers at once for 200 messages: together they could take 300, so every message is handed out.
    const batches = await Promise.all([1, 2, 3, 4, 5, 6].map(() => q.dequeue({ max_messages: 50 })));
    const ids = batches.flat().map((m) => m.id);
    expect(ids).toHaveLength(200);
    expect(new Set(ids).size).toBe(200);
    const leaseIds = batches.flat().map((m) => m.lease_id);
    const acks = await Promise.all([0, 1, 2, 3].map((i) => q.call("ack", { lease_ids: leaseIds.slice(i * 50, i * 50 + 50) })));
    expect(acks.flatMap((r) => r.body.done)).toHaveLength(200);
    expect(await q.depth()).toMatchObject({ ready: 0, leased: 0, dead: 0 });
  });
});

describe("dead letters", () => {
  it("dead-letters a message after max deliveries, replays it, and purges with an audited reason", async () => {
    const q = await queueWithRoute("dlq", { max_deliveries: 2 });
    await q.send(2, "dead");
    for (let round = 1; round <= 2; round++) {
      const leased = await q.dequeue({ lease_seconds: 1 });
      expect(leased.map((m) => m.delivery)).toEqual([round, round]);
      await sleep(1100);
    }
    expect(await q.dequeue()).toEqual([]);
    expect(await q.depth()).toMatchObject({ ready: 0, leased: 0, dead: 2 });
    const dead = await app.call("GET", "/v1/pull/dlq/dead-letters", t.token);
    expect(dead.body.data).toHaveLength(2);
    expect(dead.body.data[0]).toMatchObject({ deliveries: 2, receipt: { route_id: q.route.id } });

    const replayed = await q.call("dead-letters/replay", { message_ids: [dead.body.data[0].id] });
    expect(replayed.body).toEqual({ replayed: 1, remaining: 1 });
    const again = await q.dequeue();
    expect(again).toEqual([expect.objectContaining({ id: dead.body.data[0].id, delivery: 1 })]);

    const purged = await app.call("POST", "/v1/pull/dlq/dead-letters/purge", t.token, {}, { "X-Audit-Reason": "poison messages from a broken sender" });
    expect(purged.body).toEqual({ purged: 1, remaining: 0 });
    expect(await q.depth()).toMatchObject({ dead: 0, leased: 1 });
    const audit = await app.call("GET", "/v1/audit-log?type=pull.message_purged", t.token);
    expect(audit.body.data).toEqual([expect.objectContaining({ data: { message_id: dead.body.data[1].id }, reason: "poison messages from a broken sender", actor: expect.objectContaining({ id: t.tokenId }) })]);
  });
});

describe("dead letters beyond one call's batch", () => {
  it("replays and purges at most 1,000 per call, saying how many remain until none do", async () => {
    const q = await queueWithRoute("dlq-many");
    const seeded = await seedMessages("dlq-many", q.route.id, 2_100, { dead: true, prefix: "dead" });
    expect(await q.depth()).toMatchObject({ dead: 2_100, ready: 0 });
    const purgedEntries = async () => (await db.owner<{ n: number }[]>`
      select count(*)::int as n from hookledger.ledger where type = 'pull.message_purged' and data->>'message_id' in ${db.owner(seeded)}`)[0]?.n;

    expect((await q.call("dead-letters/replay", {})).body).toEqual({ replayed: 1_000, remaining: 1_100 });
    expect(await q.depth()).toMatchObject({ dead: 1_100, ready: 1_000 });

    const purge = () => app.call("POST", "/v1/pull/dlq-many/dead-letters/purge", t.token, {}, { "X-Audit-Reason": "draining" });
    expect((await purge()).body).toEqual({ purged: 1_000, remaining: 100 });
    expect((await purge()).body).toEqual({ purged: 100, remaining: 0 });
    expect((await purge()).body).toEqual({ purged: 0, remaining: 0 });
    expect(await q.depth()).toMatchObject({ dead: 0, ready: 1_000 });
    expect(await purgedEntries()).toBe(1_100);
  });

  it("acts on the given message_ids only, and says how many other dead letters remain", async () => {
    const q = await queueWithRoute("dlq-some");
    const seeded = await seedMessages("dlq-some", q.route.id, 5, { dead: true, prefix: "some" });
    expect((await q.call("dead-letters/replay", { message_ids: seeded.slice(0, 2) })).body).toEqual({ replayed: 2, remaining: 3 });
    expect((await q.call("dead-letters/replay", { message_ids: seeded.slice(0, 2) })).body).toEqual({ replayed: 0, remaining: 3 });
    expect(await q.depth()).toMatchObject({ dead: 3, ready: 2 });
  });
});

describe("queues and tokens", () => {
  it("lets a pull:consume token pull and nothing else", async () => {
    const q = await queueWithRoute("consumer-only");
    await q.send(1);
    const created = await app.call("POST", "/v1/tokens", t.token, { label: "dmz consumer", scopes: ["pull:consume"] });
    const consumer = created.body.token as string;
    const [message] = await q.dequeue({}, consumer);
    expect((await q.call("ack", { lease_ids: [message!.lease_id] }, consumer)).body.done).toHaveLength(1);
    expect((await app.call("GET", "/v1/ingress-routes", consumer)).status).toBe(403);
    expect((await q.call("dead-letters/purge", {}, consumer)).status).toBe(403);
    expect((await app.call("GET", "/v1/pull-queues/consumer-only", consumer)).status).toBe(403);
  });

  it("answers 404 for a queue that does not exist and 409 for a duplicate name", async () => {
    expect((await app.call("POST", "/v1/pull/no-such-queue/dequeue", t.token, {})).status).toBe(404);
    await t.createQueue("twice");
    const duplicate = await app.call("POST", "/v1/pull-queues", t.token, { name: "twice" });
    expect(duplicate.status).toBe(409);
    const list = await app.call("GET", "/v1/pull-queues?limit=2", t.token);
    expect(list.body.data).toHaveLength(2);
    expect(list.body.next_cursor).toEqual(expect.any(String));
  });

  it("reports the oldest live message's age", async () => {
    const q = await queueWithRoute("aged");
    await q.send(1);
    await sleep(1100);
    const depth = await q.depth();
    expect(depth).toMatchObject({ ready: 1, oldest_age_seconds: expect.any(Number) });
    expect(depth.oldest_age_seconds).toBeGreaterThanOrEqual(1);
  });

  it("rebuilds every inbound projection from the ledger to exactly the live tables", async () => {
    // A message leased twice in a row leaves two consecutive lease entries, which a rebuild applies as one run.
    const q = await queueWithRoute("rebuild");
    await q.send(1);
    await q.dequeue({ lease_seconds: 1 });
    await sleep(1100);
    expect((await q.dequeue({ lease_seconds: 600 }))[0]?.delivery).toBe(2);
    const tables = [
      ["ingress_routes", "route_id"],
      ["ingress_receipts", "receipt_id"],
      ["pull_queues", "queue"],
      ["pull_messages", "message_id"],
    ] as const;
    for (const [table, key] of tables) {
      const live = await db.owner.unsafe(`select * from hookledger.${table} order by org_id, ${key}`);
      expect(live.length).toBeGreaterThan(0);
      await rebuildProjectionForAll(app.ctx, table);
      expect({ table, rows: await db.owner.unsafe(`select * from hookledger.${table} order by org_id, ${key}`) }).toEqual({ table, rows: live });
    }
  });
});
