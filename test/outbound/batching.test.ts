/**
 * Batched ingestion and delivery, as a user relies on them: concurrent requests share a transaction yet each is
 * answered for its own event, a bad event fails alone, and a batch delivery job records exactly one outcome per
 * attempt even when it runs twice.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IngestError, ingestEvent, type IncomingEvent } from "../../src/outbound/ingest.ts";
import { utcDay } from "../../src/tenancy/quotas.ts";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { queuedDeliveries } from "../support/deliverJobs.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "./setup.ts";

type Tenant = Awaited<ReturnType<typeof outboundTenant>>;

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let t: Tenant;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  receiver = await startReceiver();
  t = await outboundTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});


/** An event type `name` whose schema requires a string `id`, and a subscription to it at the receiver's `path`. */
async function typeWithSchema(tenant: Tenant, name: string, path: string): Promise<void> {
  const created = await app.call("POST", `/v1/applications/${tenant.appId}/event-types`, tenant.token, {
    name,
    schema: { type: "object", required: ["id"], properties: { id: { type: "string" } } },
  });
  expect(created.status).toBe(201);
  await tenant.subscribe({ url: receiver.url(path), event_types: [name] });
}

/**
 * Today's usage-counter rows of an organization, inserted by a transaction left open: every flush of its events
 * waits at its counter until the returned connection commits.
 */
async function holdUsageCounters(orgId: string) {
  const hold = await db.owner.reserve();
  await hold`begin`;
  await hold`insert into hookledger.usage_counters (org_id, day, shard, events)
    select ${orgId}, ${utcDay(new Date())}::date, shard, 0 from generate_series(0, 7) as shard`;
  return hold;
}

/** Sessions of the test database waiting for a lock. */
async function lockWaits(): Promise<number> {
  const [row] = await db.owner<{ n: number }[]>`
    select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
  return row?.n ?? 0;
}

describe("group commit", () => {
  it("writes concurrent events in shared transactions, answers each for its own event, and fails a bad one alone", async () => {
    await typeWithSchema(t, "order.placed", "/batch");
    // The day's usage-counter rows are held for a moment, so the first flushes wait at their counter while the other
    // requests arrive: on a loaded machine each request could otherwise find the lane free and commit alone.
    const hold = await holdUsageCounters(t.orgId);
    const sends = Array.from({ length: 40 }, (_, i) =>
      t.send({ event_type: "order.placed", event_id: `gc_${i}`, payload: i === 17 ? { id: 17 } : { id: `o${i}` } }),
    );
    // A repeat of one id inside the same burst, and a conflicting one.
    sends.push(t.send({ event_type: "order.placed", event_id: "gc_3", payload: { id: "o3" } }));
    sends.push(t.send({ event_type: "order.placed", event_id: "gc_4", payload: { id: "other" } }));
    try {
      await eventually(async () => ((await lockWaits()) > 0 ? true : undefined), 15_000, "a flush waiting at the held counter");
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      await hold`commit`;
      hold.release();
    }
    const answers = await Promise.all(sends);

    answers.slice(0, 40).forEach((answer, i) => {
      if (i === 17) {
        expect(answer.status).toBe(422);
        expect(answer.body.errors[0].field).toBe("payload.id");
      } else if (i !== 4) {
        expect(answer.status).toBe(202);
        expect(answer.body).toEqual({ event_id: `gc_${i}`, deliveries_scheduled: 1 });
      }
    });
    expect(answers[40]?.status).toBe(202);
    expect(answers[40]?.body).toEqual({ event_id: "gc_3", deliveries_scheduled: 1 });
    // Concurrent requests may be handled in any order: whichever gc_4 came first is accepted, the other conflicts.
    expect([answers[4]?.status, answers[41]?.status].sort()).toEqual([202, 409]);
    const [stored] = await db.owner<{ payload: string }[]>`select payload from hookledger.events where org_id = ${t.orgId} and event_id = 'gc_4'`;
    expect(JSON.parse(stored?.payload ?? "null")).toEqual(answers[4]?.status === 202 ? { id: "o4" } : { id: "other" });

    // Every accepted event is committed with its delivery, exactly once, and batches really were shared.
    const rows = await db.owner<{ event_id: string; deliveries: number; xact: string }[]>`
      select e.event_id, (select count(*)::int from hookledger.deliveries d where d.org_id = e.org_id and d.event_id = e.event_id) as deliveries,
             (select l.xact_id::text from hookledger.ledger l where l.org_id = e.org_id and l.stream = 'event:' || e.event_id) as xact
      from hookledger.events e where e.org_id = ${t.orgId} and e.event_id like 'gc_%'`;
    expect(rows.map((row) => row.event_id).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `gc_${i}`).filter((id) => id !== "gc_17").sort());
    expect(rows.every((row) => row.deliveries === 1)).toBe(true);
    expect(new Set(rows.map((row) => row.xact)).size).toBeLessThan(rows.length);
    const [usage] = await db.owner<{ n: number }[]>`select sum(events)::int as n from hookledger.usage_counters where org_id = ${t.orgId}`;
    expect(usage?.n).toBe(39);
  });
  it("writes a flush that lost an event_id to a concurrent one once more, its other events still in one transaction", async () => {
    const u = await outboundTenant(app, []);
    await typeWithSchema(u, "order.shipped", "/race-lost");
    const hold = await holdUsageCounters(u.orgId);
    let first: Promise<{ status: number; body: { event_id?: string } }>;
    let burst: PromiseSettledResult<unknown>[];
    try {
      // The first flush writes ship_1 and then waits at the held counter, ship_1's rows not yet committed.
      first = u.send({ event_type: "order.shipped", event_id: "ship_1", payload: { id: "first" } });
      await eventually(async () => ((await lockWaits()) >= 1 ? true : undefined), 15_000, "the first flush at the held counter");
      // The next flush, handed in together as the ingress publish task hands in events: ship_1 again with other
      // content, one event its schema refuses (so the flush is decided by a transaction on fresh reads, which run
      // before ship_1 commits) and eight good ones.
      const event = (id: string, payload: unknown): IncomingEvent => ({
        appId: u.appId, eventId: id, eventType: "order.shipped", contentType: "application/json", encoding: "json",
        payload: JSON.stringify(payload), parsedPayload: payload, labels: {},
      });
      const items = [event("ship_1", { id: "second" }), event("ship_bad", { id: 7 }), ...Array.from({ length: 8 }, (_, i) => event(`ship_ok_${i}`, { id: `o${i}` }))];
      const settled = Promise.allSettled(items.map((item) => ingestEvent(app.ctx, u.orgId, item, { actor: { kind: "worker" } })));
      // It meets ship_1's uncommitted row and waits for it.
      await eventually(async () => ((await lockWaits()) >= 2 ? true : undefined), 15_000, "the second flush waiting on ship_1");
      await hold`commit`;
      burst = await settled;
    } finally {
      await hold`rollback`.catch(() => undefined);
      hold.release();
    }
    expect((await first).status).toBe(202);
    const [conflict, refused, ...accepted] = burst;
    expect(conflict?.status === "rejected" && conflict.reason instanceof IngestError && conflict.reason.failure.kind).toBe("idempotency_conflict");
    expect(refused?.status === "rejected" && refused.reason instanceof IngestError && refused.reason.failure.kind).toBe("schema_violation");
    expect(accepted.map((outcome) => outcome.status)).toEqual(Array(8).fill("fulfilled"));
    const rows = await db.owner<{ event_id: string; payload: string; xact: string }[]>`
      select e.event_id, e.payload, (select l.xact_id::text from hookledger.ledger l where l.org_id = e.org_id and l.stream = 'event:' || e.event_id) as xact
      from hookledger.events e where e.org_id = ${u.orgId} order by e.event_id`;
    expect(rows.map((row) => row.event_id)).toEqual(["ship_1", ...Array.from({ length: 8 }, (_, i) => `ship_ok_${i}`)]);
    expect(JSON.parse(rows[0]?.payload ?? "null")).toEqual({ id: "first" });
    // The eight were written again together, not one transaction each.
    expect(new Set(rows.slice(1).map((row) => row.xact)).size).toBe(1);
    const [usage] = await db.owner<{ n: number }[]>`select sum(events)::int as n from hookledger.usage_counters where org_id = ${u.orgId}`;
    expect(usage?.n).toBe(9);
  });
});

describe("batch delivery jobs", () => {
  it("delivers every item of one job, and a second run of the same job records nothing twice", async () => {
    await t.subscribe({ url: receiver.url("/twice"), event_types: ["invoice.voided"] });
    const sent = await Promise.all(Array.from({ length: 12 }, (_, i) => t.send({ event_type: "invoice.voided", event_id: `bj_${i}` })));
    expect(sent.every((answer) => answer.status === 202)).toBe(true);
    const items = (await queuedDeliveries(db.owner, t.orgId)).map(({ org_id, delivery_id, attempt }) => ({ org_id, delivery_id, attempt }));
    const worker = await startTestApp(db, { api: false, worker: true });
    try {
      await receiver.waitFor(12, "/twice");
      await eventually(async () => {
        const [row] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.delivery_attempts where org_id = ${t.orgId} and event_id like 'bj_%'`;
        return row?.n === 12 ? true : undefined;
      });
      // Successes to a healthy endpoint were recorded by hookledger.record_successes, one statement per group.
      const groups = (await worker.ctx.metrics.attemptGroupsRecorded.get()).values;
      expect(groups.find((value) => value.labels.path === "one_statement")?.value ?? 0).toBeGreaterThan(0);
      // The same deliveries again, as after a crash between recording the outcomes and completing the job, in one
      // job of the item shape the service builds itself (and fan-out jobs had before sql/096): every item names an
      // attempt already made, so nothing is sent or recorded again.
      const [again] = await db.owner<{ id: string }[]>`
        select id::text from graphile_worker.add_job('deliver', ${db.owner.json(items as never)}::json)`;
      expect(again?.id).toBeDefined();
      await eventually(async () => {
        const [left] = await db.owner<{ n: number }[]>`select count(*)::int as n from graphile_worker._private_jobs where id = ${again?.id ?? "0"}::bigint`;
        return left?.n === 0 ? true : undefined;
      });
    } finally {
      await worker.stop();
    }
    expect(receiver.requests.filter((request) => request.path === "/twice")).toHaveLength(12);
    const [attempts] = await db.owner<{ n: number; entries: number }[]>`
      select (select count(*)::int from hookledger.delivery_attempts where org_id = ${t.orgId} and event_id like 'bj_%') as n,
             (select count(*)::int from hookledger.ledger where org_id = ${t.orgId} and type = 'delivery.attempted' and data->>'event_id' like 'bj_%') as entries`;
    expect(attempts).toEqual({ n: 12, entries: 12 });
  });

  it("records one outcome per attempt when a job and its twin run at the same time", async () => {
    receiver.respond("/race", { status: 200, body: "ok", delayMs: 300 });
    await t.subscribe({ url: receiver.url("/race"), event_types: ["user.created"] });
    const sent = await Promise.all(Array.from({ length: 6 }, (_, i) => t.send({ event_type: "user.created", event_id: `race_${i}` })));
    expect(sent.every((answer) => answer.status === 202)).toBe(true);
    const jobs = await db.owner<{ payload: unknown }[]>`
      select j.payload from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id
      where k.identifier = 'deliver' and j.payload::text like '%' || ${t.orgId} || '%'`;
    // Each job twice, before any worker runs: both copies load the same deliveries and send them.
    for (const job of jobs) await db.owner`select graphile_worker.add_job('deliver', ${db.owner.json(job.payload as never)}::json)`;
    const worker = await startTestApp(db, { api: false, worker: true });
    try {
      await eventually(async () => {
        const [left] = await db.owner<{ n: number }[]>`
          select count(*)::int as n from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id where k.identifier = 'deliver'`;
        return left?.n === 0 ? true : undefined;
      }, 20_000, "every job to complete");
    } finally {
      await worker.stop();
    }
    const [counts] = await db.owner<{ attempts: number; entries: number; succeeded: number }[]>`
      select (select count(*)::int from hookledger.delivery_attempts where org_id = ${t.orgId} and event_id like 'race_%') as attempts,
             (select count(*)::int from hookledger.ledger where org_id = ${t.orgId} and type = 'delivery.attempted' and data->>'event_id' like 'race_%') as entries,
             (select count(*)::int from hookledger.deliveries where org_id = ${t.orgId} and event_id like 'race_%' and status = 'succeeded') as succeeded`;
    expect(counts).toEqual({ attempts: 6, entries: 6, succeeded: 6 });
  });

  it("shares loads and records among jobs that run at the same time", async () => {
    receiver.respond("/shared", { status: 200, body: "ok", delayMs: 50 });
    await t.subscribe({ url: receiver.url("/shared"), event_types: ["invoice.paid"] });
    // One at a time, so each event is its own ingest batch and its own job.
    for (let i = 0; i < 24; i++) expect((await t.send({ event_type: "invoice.paid", event_id: `sh_${i}` })).status).toBe(202);
    const [jobs] = await db.owner<{ n: number }[]>`
      select count(*)::int as n from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id
      where k.identifier = 'deliver' and j.payload::text like '%' || ${t.orgId} || '%'`;
    expect(jobs?.n).toBe(24);
    const worker = await startTestApp(db, { api: false, worker: true });
    try {
      await receiver.waitFor(24, "/shared");
      await eventually(async () => {
        const [row] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.delivery_attempts where org_id = ${t.orgId} and event_id like 'sh_%'`;
        return row?.n === 24 ? true : undefined;
      });
      // 24 jobs, recorded in fewer statements than jobs: groups of jobs running together were recorded together.
      const groups = (await worker.ctx.metrics.attemptGroupsRecorded.get()).values.reduce((sum, value) => sum + value.value, 0);
      expect(groups).toBeGreaterThan(0);
      expect(groups).toBeLessThan(24);
    } finally {
      await worker.stop();
    }
    expect(receiver.requests.filter((request) => request.path === "/shared")).toHaveLength(24);
    const [counts] = await db.owner<{ attempts: number; entries: number; succeeded: number }[]>`
      select (select count(*)::int from hookledger.delivery_attempts where org_id = ${t.orgId} and event_id like 'sh_%') as attempts,
             (select count(*)::int from hookledger.ledger where org_id = ${t.orgId} and type = 'delivery.attempted' and data->>'event_id' like 'sh_%') as entries,
             (select count(*)::int from hookledger.deliveries where org_id = ${t.orgId} and event_id like 'sh_%' and status = 'succeeded') as succeeded`;
    expect(counts).toEqual({ attempts: 24, entries: 24, succeeded: 24 });
  });
});
