/**
 * The one-statement ingest path (sql/031): batches are written by hookledger.ingest_batch from the fan-out kept in
 * memory, and every change that alters what an event is accepted for or where it goes takes effect on the very
 * next event — on the process that made the change and on another one — because a stale memory is refused by the
 * database and the batch is decided again on fresh reads.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { outboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let other: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  other = await startTestApp(db);
});
afterAll(async () => {
  await app?.stop();
  await other?.stop();
  await db?.drop();
});

async function batches(on: TestApp): Promise<Record<string, number>> {
  const metric = await on.ctx.metrics.ingestBatches.get();
  return Object.fromEntries(metric.values.map((value) => [String(value.labels.path), value.value]));
}

async function fanoutVersion(orgId: string): Promise<number> {
  const [row] = await db.owner<{ version: string }[]>`select version::text from hookledger.fanout_versions where org_id = ${orgId}`;
  return Number(row?.version ?? 0);
}

describe("ingest in one statement", () => {
  it("writes the common case with ingest_batch, leaving rows equal to the transactional path's", async () => {
    const t = await outboundTenant(app);
    await t.subscribe({ url: "http://127.0.0.1:9/a" });
    await t.send({ event_id: "warm" });
    const before = await batches(app);
    const sent = await Promise.all(Array.from({ length: 20 }, (_, i) => t.send({ event_id: `one_${i}`, labels: { n: String(i) } })));
    expect(sent.map((r) => r.status)).toEqual(Array(20).fill(202));
    expect(sent.every((r) => r.body.deliveries_scheduled === 1)).toBe(true);
    const after = await batches(app);
    expect((after.one_statement ?? 0) - (before.one_statement ?? 0)).toBeGreaterThan(0);
    expect(after.transaction ?? 0).toBe(before.transaction ?? 0);

    const rows = await db.owner<{ event_id: string; deliveries: number; jobs: number; ledger: number; received_at: Date; recorded_at: Date }[]>`
      select e.event_id,
        (select count(*)::int from hookledger.deliveries d where d.event_id = e.event_id and d.org_id = e.org_id and d.status = 'pending') as deliveries,
        (select count(*)::int from graphile_worker._private_jobs j join hookledger.deliveries d on j.payload::text like '%"' || d.delivery_id || '"%'
          where d.event_id = e.event_id and d.org_id = e.org_id) as jobs,
        (select count(*)::int from hookledger.ledger l where l.org_id = e.org_id and l.stream = 'event:' || e.event_id) as ledger,
        e.received_at, (select l.recorded_at from hookledger.ledger l where l.org_id = e.org_id and l.stream = 'event:' || e.event_id) as recorded_at
      from hookledger.events e where e.org_id = ${t.orgId} and e.event_id like 'one_%'`;
    expect(rows).toHaveLength(20);
    for (const row of rows) {
      expect(row).toMatchObject({ deliveries: 1, jobs: 1, ledger: 1 });
      expect(row.received_at.getTime()).toBe(Math.floor(row.recorded_at.getTime()));
    }
    const [usage] = await db.owner<{ n: string }[]>`select sum(events)::text as n from hookledger.usage_counters where org_id = ${t.orgId}`;
    expect(Number(usage?.n)).toBe(21);
  });

  it("sees every change that decides ingestion on the next event, on this process and on another", async () => {
    const t = await outboundTenant(app);
    const first = await t.subscribe({ url: "http://127.0.0.1:9/first", event_types: ["invoice.*"] });
    const sendOn = (on: TestApp, body: Record<string, unknown>) =>
      on.call("POST", "/v1/events", t.token, { app_id: t.appId, event_type: "invoice.paid", payload: { amount: 1 }, ...body });
    // Both processes have the organization in memory.
    expect((await sendOn(app, {})).body.deliveries_scheduled).toBe(1);
    expect((await sendOn(other, {})).body.deliveries_scheduled).toBe(1);

    for (const on of [app, other]) {
      // A new subscription.
      const second = await t.subscribe({ url: "http://127.0.0.1:9/second", event_types: ["invoice.paid"], labels: { tier: "gold" } });
      expect((await sendOn(on, { labels: { tier: "gold" } })).body.deliveries_scheduled).toBe(2);
      expect((await sendOn(on, { labels: { tier: "silver" } })).body.deliveries_scheduled).toBe(1);
      // Disabled, then deleted.
      expect((await app.call("POST", `/v1/subscriptions/${second.id}/disable`, t.token)).status).toBe(200);
      expect((await sendOn(on, { labels: { tier: "gold" } })).body.deliveries_scheduled).toBe(1);
      expect((await app.call("DELETE", `/v1/subscriptions/${second.id}`, t.token)).status).toBe(204);
      expect((await sendOn(on, { labels: { tier: "gold" } })).body.deliveries_scheduled).toBe(1);
    }

    // A new event type, a schema on it, its deletion.
    expect((await sendOn(other, { event_type: "invoice.refunded" })).status).toBe(400);
    expect((await app.call("POST", `/v1/applications/${t.appId}/event-types`, t.token, { name: "invoice.refunded" })).status).toBe(201);
    expect((await sendOn(other, { event_type: "invoice.refunded" })).status).toBe(202);
    const schema = { type: "object", required: ["reason"], properties: { reason: { type: "string" } } };
    expect((await app.call("PATCH", `/v1/applications/${t.appId}/event-types/invoice.refunded`, t.token, { schema })).status).toBe(200);
    expect((await sendOn(other, { event_type: "invoice.refunded" })).status).toBe(422);
    expect((await sendOn(other, { event_type: "invoice.refunded", payload: { reason: "late" } })).status).toBe(202);
    expect((await app.call("DELETE", `/v1/applications/${t.appId}/event-types/invoice.refunded`, t.token)).status).toBe(204);
    expect((await sendOn(other, { event_type: "invoice.refunded", payload: { reason: "late" } })).status).toBe(400);

    // The subscription's own filter.
    expect((await app.call("PATCH", `/v1/subscriptions/${first.id}`, t.token, { event_types: ["invoice.voided"] })).status).toBe(200);
    expect((await sendOn(other, {})).body.deliveries_scheduled).toBe(0);

    // The quota, set by the instance admin: today's events already pass it.
    expect((await app.call("PATCH", `/v1/organizations/${t.orgId}`, TEST_ADMIN_TOKEN, { quotas: { events_per_day: 5 } })).status).toBe(200);
    expect((await sendOn(other, {})).status).toBe(429);
    expect((await app.call("PATCH", `/v1/organizations/${t.orgId}`, TEST_ADMIN_TOKEN, { quotas: { events_per_day: 1000 } })).status).toBe(200);
    expect((await sendOn(other, {})).status).toBe(202);

    // The application, deleted.
    expect((await app.call("DELETE", `/v1/applications/${t.appId}`, t.token)).status).toBe(204);
    expect((await sendOn(other, {})).status).toBe(400);
  });

  it("answers a repeated event id as a repeat, and a conflicting one as a conflict, though the memory accepts it", async () => {
    const t = await outboundTenant(app);
    await t.subscribe({ url: "http://127.0.0.1:9/a" });
    expect((await t.send({ event_id: "again" })).status).toBe(202);
    const repeat = await t.send({ event_id: "again" });
    expect(repeat.status).toBe(202);
    expect(repeat.body).toMatchObject({ event_id: "again", deliveries_scheduled: 1 });
    expect((await t.send({ event_id: "again", payload: { amount: 43 } })).status).toBe(409);
    const [row] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.deliveries where org_id = ${t.orgId} and event_id = 'again'`;
    expect(row?.n).toBe(1);
  });

  it("writes nothing of a batch with a taken or repeated event id: a unique violation of the stream or the event row (sql/081)", async () => {
    const t = await outboundTenant(app);
    const sub = await t.subscribe({ url: "http://127.0.0.1:9/a" });
    expect((await t.send({ event_id: "taken" })).status).toBe(202);
    const version = await fanoutVersion(t.orgId);
    const received = (eventId: string, s: number) => {
      const deliveryId = randomUUID();
      return {
        entry: {
          s,
          type: "event.received",
          data: {
            event_id: eventId, app_id: t.appId, event_type: "invoice.paid", content_type: "application/json", payload_encoding: "json",
            payload: "{}", payload_sha256: "0".repeat(64), request_fingerprint: "1".repeat(64), labels: {}, occurred_at: new Date().toISOString(),
            deliveries_scheduled: 1, deliveries: [{ delivery_id: deliveryId, subscription_id: sub.id }],
          },
          meta: {},
        },
      };
    };
    const ingest = (eventIds: string[]) => {
      const items = eventIds.map((id, i) => received(id, i));
      return db.service`
        select hookledger.ingest_batch(${t.orgId}::uuid, ${version}::bigint, 1000000::bigint, current_date, 0, ${eventIds.length}::int,
          ${eventIds.map((id) => `event:${id}`)}::text[], ${eventIds.map(() => 1)}::int[],
          ${db.service.json(items.map((item) => item.entry) as never)}::jsonb, 32, 0, 5)`;
    };
    const counts = async () => {
      const [row] = await db.owner<{ events: number; deliveries: number; ledger: number; usage: number; jobs: number }[]>`
        select (select count(*)::int from hookledger.events where org_id = ${t.orgId}) as events,
          (select count(*)::int from hookledger.deliveries where org_id = ${t.orgId}) as deliveries,
          (select count(*)::int from hookledger.ledger where org_id = ${t.orgId}) as ledger,
          (select coalesce(sum(events), 0)::int from hookledger.usage_counters where org_id = ${t.orgId}) as usage,
          (select count(*)::int from graphile_worker._private_jobs) as jobs`;
      return row;
    };
    const before = await counts();
    // Under row-level security PostgreSQL leaves the key out of the error; the caller decides the batch again anyway.
    type Refusal = { code?: string; constraint_name?: string };
    const taken = await ingest(["fresh_1", "taken", "fresh_2"]).then(() => undefined, (error: unknown) => error as Refusal);
    expect(taken).toMatchObject({ code: "23505", constraint_name: "ledger_streams_pkey" });
    const repeated = await ingest(["fresh_1", "fresh_1"]).then(() => undefined, (error: unknown) => error as Refusal);
    expect(repeated).toMatchObject({ code: "23505", constraint_name: "ledger_streams_pkey" });
    expect(await counts()).toEqual(before);

    // An event row whose stream is missing (ledger and projection disagree) is refused too, and nothing is written.
    await db.owner`delete from hookledger.ledger_streams where org_id = ${t.orgId} and stream = 'event:taken'`;
    const recorded = await ingest(["fresh_1", "taken"]).then(() => undefined, (error: unknown) => error as Refusal);
    expect(recorded).toMatchObject({ code: "23505", constraint_name: "events_pkey" });
    expect(await counts()).toEqual(before);

    await ingest(["fresh_1", "fresh_2"]);
    expect(await counts()).toEqual({ ...before, events: before!.events + 2, deliveries: before!.deliveries + 2, ledger: before!.ledger + 2, usage: before!.usage + 2, jobs: before!.jobs + 1 });
  });

  it("queues a flush's deliveries as jobs of 32 ids the database cuts from the entries, in their order (sql/088, sql/096)", async () => {
    const t = await outboundTenant(app);
    for (let i = 0; i < 40; i++) await t.subscribe({ url: `http://127.0.0.1:9/wide/${i}` });
    const sent = await t.send({ event_id: "wide" });
    expect(sent.status).toBe(202);
    expect(sent.body.deliveries_scheduled).toBe(40);
    const [entry] = await db.owner<{ deliveries: { delivery_id: string }[] }[]>`
      select data->'deliveries' as deliveries from hookledger.ledger where org_id = ${t.orgId} and stream = 'event:wide'`;
    const jobs = await db.owner<{ payload: { org_id: string; attempt: number; delivery_ids: string[] }; max_attempts: number; priority: number }[]>`
      select j.payload, j.max_attempts, j.priority from graphile_worker._private_jobs j
      where j.payload::jsonb @> ${db.owner.json({ org_id: t.orgId } as never)}::jsonb order by j.id`;
    // Each job: the organization and the attempt once, then its deliveries' ids.
    expect(jobs.map((job) => Object.keys(job.payload).sort())).toEqual([["attempt", "delivery_ids", "org_id"], ["attempt", "delivery_ids", "org_id"]]);
    expect(jobs.map((job) => ({ org_id: job.payload.org_id, attempt: job.payload.attempt, deliveries: job.payload.delivery_ids.length }))).toEqual([
      { org_id: t.orgId, attempt: 1, deliveries: 32 },
      { org_id: t.orgId, attempt: 1, deliveries: 8 },
    ]);
    expect(jobs.flatMap((job) => job.payload.delivery_ids)).toEqual(entry!.deliveries.map(({ delivery_id }) => delivery_id));
    expect(jobs.map(({ max_attempts, priority }) => ({ max_attempts, priority }))).toEqual([{ max_attempts: 5, priority: 0 }, { max_attempts: 5, priority: 0 }]);
  });

  it("lets the service insert jobs only for the organization of its transaction", async () => {
    const a = await outboundTenant(app);
    const b = await outboundTenant(app);
    const job = (orgId: string) => [{ identifier: "deliver", payload: [{ org_id: orgId, delivery_id: "00000000-0000-0000-0000-000000000001", attempt: 1 }], max_attempts: 5 }];
    const asTenant = (orgId: string, run: (tx: typeof db.service) => Promise<unknown>) =>
      db.service.begin(async (tx) => {
        await tx`select set_config('hookledger.org_id', ${orgId}, true)`;
        return run(tx as unknown as typeof db.service);
      });
    await expect(asTenant(a.orgId, (tx) => tx`select hookledger.insert_deliver_jobs(${tx.json(job(b.orgId) as never)})`)).rejects.toThrow(/org_id of this transaction/);
    await expect(asTenant(a.orgId, (tx) => tx`select hookledger.insert_deliver_jobs(${tx.json([{ ...job(a.orgId)[0], job_key: "k" }] as never)})`)).rejects.toThrow(/only unkeyed/);
    await expect(asTenant(a.orgId, (tx) => tx`select hookledger.insert_deliver_jobs(${tx.json([{ ...job(a.orgId)[0], identifier: "ingress_publish" }] as never)})`)).rejects.toThrow(/only unkeyed/);
    const ids = ["00000000-0000-0000-0000-000000000001"];
    await expect(db.service`select hookledger.insert_fanout_jobs(${ids}::uuid[], 32, 0, 5)`).rejects.toThrow(/no tenant set/);
    for (const [size, priority, attempts] of [[0, 0, 5], [1001, 0, 5], [32, 3, 5], [32, 0, 0], [32, 0, 26]]) {
      await expect(asTenant(a.orgId, (tx) => tx`select hookledger.insert_fanout_jobs(${ids}::uuid[], ${size!}::int, ${priority!}::int, ${attempts!}::int)`)).rejects.toThrow(/a job size of 1-1000/);
    }
    const publish = (orgId: string, receipt: string, key = `ingress_publish:${receipt}`) => [{ identifier: "ingress_publish", payload: { org_id: orgId, receipt_id: receipt }, job_key: key, max_attempts: 5 }];
    await expect(asTenant(a.orgId, (tx) => tx`select hookledger.insert_publish_jobs(${tx.json(publish(b.orgId, "r1") as never)})`)).rejects.toThrow(/of this transaction's organization/);
    await expect(asTenant(a.orgId, (tx) => tx`select hookledger.insert_publish_jobs(${tx.json(publish(a.orgId, "r1", "other") as never)})`)).rejects.toThrow(/keyed by receipt/);
  });

  it("bumps the fan-out version for configuration changes only, not for delivery outcomes", async () => {
    const t = await outboundTenant(app);
    const sub = await t.subscribe({ url: "http://127.0.0.1:9/a" });
    const start = await fanoutVersion(t.orgId);
    expect(start).toBeGreaterThan(0);
    // What delivery outcomes write on a subscription: health columns.
    await db.owner`update hookledger.subscriptions set consecutive_failures = consecutive_failures + 1, last_failure_at = now() where subscription_id = ${sub.id}`;
    await t.send({});
    expect(await fanoutVersion(t.orgId)).toBe(start);
    await app.call("PATCH", `/v1/subscriptions/${sub.id}`, t.token, { description: "only words" });
    expect(await fanoutVersion(t.orgId)).toBe(start);
    await app.call("POST", `/v1/subscriptions/${sub.id}/disable`, t.token);
    expect(await fanoutVersion(t.orgId)).toBe(start + 1);
  });
});
