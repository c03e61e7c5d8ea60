/**
 * hookledger.record_successes (sql/078), called as the worker calls it for a group of successes to a healthy
 * endpoint: the entries, attempt rows, deliveries and endpoint health it writes, and the groups it refuses whole —
 * an attempt another run recorded first (HL409 naming the delivery's stream, as append_entries names it, so the
 * worker's transactional path can drop just that one), a delivery twice in a group, and anything but a success;
 * and its lock order beside a subscription command (sql/085), which locks the endpoint's row before its deliveries.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { outboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

interface PgError {
  code?: string;
  message?: string;
  detail?: string;
}

describe("record_successes in one statement", () => {
  it("records a group of successes, and refuses a group with an attempt recorded first, twice, or not a success, writing nothing", async () => {
    const t = await outboundTenant(app);
    const sub = await t.subscribe({ url: "http://127.0.0.1:9/ok" });
    for (const id of ["rs_1", "rs_2", "rs_3"]) expect((await t.send({ event_id: id })).status).toBe(202);
    const deliveries = await db.owner<{ delivery_id: string; event_id: string }[]>`
      select delivery_id::text, event_id from hookledger.deliveries where org_id = ${t.orgId} order by event_id`;
    expect(deliveries).toHaveLength(3);
    const [d1, d2, d3] = deliveries;
    if (!d1 || !d2 || !d3) throw new Error("three deliveries expected");

    const entry = (delivery: { delivery_id: string; event_id: string }, s: number, attempt = 1, outcome = "succeeded") => ({
      s,
      type: "delivery.attempted",
      data: {
        attempt_id: randomUUID(), delivery_id: delivery.delivery_id, event_id: delivery.event_id, subscription_id: sub.id,
        attempt_number: attempt, outcome, status_code: 204, error_class: null, error_message: null, duration_ms: 3,
        response_headers: { "content-type": "text/plain" }, response_excerpt: "ok", next_attempt_at: null,
      },
      meta: { actor: { kind: "worker" } },
    });
    const record = (group: { delivery: typeof d1; expected: number; attempt?: number; outcome?: string }[]) =>
      db.service`
        select hookledger.record_successes(${t.orgId}::uuid, ${group.map((item) => `delivery:${item.delivery.delivery_id}`)}::text[],
          ${group.map((item) => item.expected)}::int[],
          ${db.service.json(group.map((item, s) => entry(item.delivery, s, item.attempt, item.outcome)) as never)}::jsonb)`
        .then(() => undefined, (error: unknown) => error as PgError);
    const counts = async () => {
      const [row] = await db.owner<{ attempts: number; entries: number; streams: number; succeeded: number }[]>`
        select (select count(*)::int from hookledger.delivery_attempts where org_id = ${t.orgId}) as attempts,
          (select count(*)::int from hookledger.ledger where org_id = ${t.orgId} and type = 'delivery.attempted') as entries,
          (select count(*)::int from hookledger.ledger_streams where org_id = ${t.orgId} and stream like 'delivery:%') as streams,
          (select count(*)::int from hookledger.deliveries where org_id = ${t.orgId} and status = 'succeeded') as succeeded`;
      return row;
    };

    // First attempts: the delivery streams are new (version 0).
    expect(await record([{ delivery: d1, expected: 0 }, { delivery: d2, expected: 0 }])).toBeUndefined();
    const rows = await db.owner<{ delivery_id: string; status: string; attempts: number; last_status_code: number; done: boolean; version: number; attempt_rows: number }[]>`
      select d.delivery_id::text, d.status, d.attempts, d.last_status_code, d.completed_at = d.last_attempt_at and d.next_attempt_at is null as done,
        (select version from hookledger.ledger_streams s where s.org_id = d.org_id and s.stream = 'delivery:' || d.delivery_id) as version,
        (select count(*)::int from hookledger.delivery_attempts a where a.org_id = d.org_id and a.delivery_id = d.delivery_id and a.outcome = 'succeeded') as attempt_rows
      from hookledger.deliveries d where d.org_id = ${t.orgId} order by d.event_id`;
    expect(rows).toEqual([
      { delivery_id: d1.delivery_id, status: "succeeded", attempts: 1, last_status_code: 204, done: true, version: 1, attempt_rows: 1 },
      { delivery_id: d2.delivery_id, status: "succeeded", attempts: 1, last_status_code: 204, done: true, version: 1, attempt_rows: 1 },
      { delivery_id: d3.delivery_id, status: "pending", attempts: 0, last_status_code: null, done: false, version: null, attempt_rows: 0 },
    ]);
    const [health] = await db.owner<{ last_success_at: Date | null; consecutive_failures: number }[]>`
      select last_success_at, consecutive_failures from hookledger.subscriptions where org_id = ${t.orgId} and subscription_id = ${sub.id}`;
    expect(health?.last_success_at).toBeInstanceOf(Date);
    expect(health?.consecutive_failures).toBe(0);

    const before = await counts();
    // d1's first attempt is recorded: a second run of it conflicts, and d3 beside it is not written either.
    const taken = await record([{ delivery: d3, expected: 0 }, { delivery: d1, expected: 0 }]);
    expect(taken).toMatchObject({ code: "HL409", message: `stream delivery:${d1.delivery_id} expected to be new but is at version 1` });
    expect(JSON.parse(taken?.detail ?? "{}")).toEqual({ stream: `delivery:${d1.delivery_id}`, expected: 0, actual: 1 });
    // A retry read at a version the stream has moved past.
    const moved = await record([{ delivery: d3, expected: 0 }, { delivery: d2, expected: 2, attempt: 3 }]);
    expect(moved).toMatchObject({ code: "HL409", message: `stream delivery:${d2.delivery_id} expected at version 2 but is at version 1` });
    expect(JSON.parse(moved?.detail ?? "{}")).toEqual({ stream: `delivery:${d2.delivery_id}`, expected: 2, actual: 1 });
    const twice = await record([{ delivery: d3, expected: 0 }, { delivery: d3, expected: 0 }]);
    expect(twice).toMatchObject({ code: "HL409", message: expect.stringContaining(`delivery:${d3.delivery_id}`) });
    const failure = await record([{ delivery: d3, expected: 0, outcome: "failed" }]);
    expect(failure).toMatchObject({ code: "22023" });
    expect(await counts()).toEqual(before);

    // An attempt row whose stream is missing (ledger and projection disagree) ends in the attempts' unique index,
    // as with the sql/032 function, and nothing is written.
    await db.owner`delete from hookledger.ledger_streams where org_id = ${t.orgId} and stream = ${`delivery:${d1.delivery_id}`}`;
    const recorded = await record([{ delivery: d3, expected: 0 }, { delivery: d1, expected: 0 }]);
    expect(recorded).toMatchObject({ code: "23505" });
    expect(await counts()).toEqual({ ...before, streams: before!.streams - 1 });
    await db.owner`insert into hookledger.ledger_streams (org_id, stream, version) values (${t.orgId}, ${`delivery:${d1.delivery_id}`}, 1)`;

    // An existing stream at the version read: the next attempt appends after it.
    expect(await record([{ delivery: d3, expected: 0 }, { delivery: d2, expected: 1, attempt: 2 }])).toBeUndefined();
    expect(await counts()).toEqual({ attempts: before!.attempts + 2, entries: before!.entries + 2, streams: before!.streams + 1, succeeded: 3 });
    const [d2Now] = await db.owner<{ attempts: number; version: number }[]>`
      select d.attempts, (select version from hookledger.ledger_streams s where s.org_id = d.org_id and s.stream = 'delivery:' || d.delivery_id) as version
      from hookledger.deliveries d where d.org_id = ${t.orgId} and d.delivery_id = ${d2.delivery_id}`;
    expect(d2Now).toEqual({ attempts: 2, version: 2 });
  });

  it("writes only for the organization it is called for (row-level security)", async () => {
    const owner = await outboundTenant(app);
    const sub = await owner.subscribe({ url: "http://127.0.0.1:9/ok" });
    expect((await owner.send({ event_id: "rls_1" })).status).toBe(202);
    const [delivery] = await db.owner<{ delivery_id: string }[]>`
      select delivery_id::text from hookledger.deliveries where org_id = ${owner.orgId} and event_id = 'rls_1'`;
    const intruder = await outboundTenant(app);
    const data = {
      attempt_id: randomUUID(), delivery_id: delivery?.delivery_id, event_id: "rls_1", subscription_id: sub.id, attempt_number: 1,
      outcome: "succeeded", status_code: 200, error_class: null, error_message: null, duration_ms: 1, response_headers: {},
      response_excerpt: "", next_attempt_at: null,
    };
    // Called for another organization, the delivery and subscription are not its own: no update reaches them.
    await db.service`
      select hookledger.record_successes(${intruder.orgId}::uuid, ${[`delivery:${delivery?.delivery_id}`]}::text[], ${[0]}::int[],
        ${db.service.json([{ s: 0, type: "delivery.attempted", data, meta: {} }] as never)}::jsonb)`.catch(() => undefined);
    const [row] = await db.owner<{ status: string; attempts: number; owner_entries: number }[]>`
      select d.status, d.attempts,
        (select count(*)::int from hookledger.ledger l where l.org_id = ${owner.orgId} and l.type = 'delivery.attempted') as owner_entries
      from hookledger.deliveries d where d.org_id = ${owner.orgId} and d.delivery_id = ${delivery?.delivery_id ?? ""}::uuid`;
    expect(row).toEqual({ status: "pending", attempts: 0, owner_entries: 0 });
  });

  describe("beside a subscription command holding the endpoint's row (sql/085)", () => {
    const world = async () => {
      const t = await outboundTenant(app);
      const sub = await t.subscribe({ url: "http://127.0.0.1:9/ok" });
      const eventId = `lock_${randomUUID()}`;
      expect((await t.send({ event_id: eventId })).status).toBe(202);
      const [delivery] = await db.owner<{ delivery_id: string }[]>`
        select delivery_id::text from hookledger.deliveries where org_id = ${t.orgId} and event_id = ${eventId}`;
      if (!delivery) throw new Error("a delivery expected");
      const data = {
        attempt_id: randomUUID(), delivery_id: delivery.delivery_id, event_id: eventId, subscription_id: sub.id, attempt_number: 1,
        outcome: "succeeded", status_code: 200, error_class: null, error_message: null, duration_ms: 1, response_headers: {},
        response_excerpt: "", next_attempt_at: null,
      };
      const record = () =>
        db.service`
          select hookledger.record_successes(${t.orgId}::uuid, ${[`delivery:${delivery.delivery_id}`]}::text[], ${[0]}::int[],
            ${db.service.json([{ s: 0, type: "delivery.attempted", data, meta: { actor: { kind: "worker" } } }] as never)}::jsonb)`
          .then(() => undefined, (error: unknown) => error as PgError);
      const status = async () =>
        (await db.owner<{ status: string }[]>`select status from hookledger.deliveries where org_id = ${t.orgId} and delivery_id = ${delivery.delivery_id}`)[0]?.status;
      /**
       * What disable does, in its order: the endpoint's row, then (once `then` says so) the delivery's stream, which
       * its delivery.cancelled begins (append_entries' stream row); a deadlock shows as 40P01 on one side.
       */
      const command = async (then: () => Promise<void>) =>
        db.service.begin(async (tx) => {
          await tx`select set_config('hookledger.org_id', ${t.orgId}, true)`;
          await tx`select 1 from hookledger.subscriptions where org_id = ${t.orgId} and subscription_id = ${sub.id} for no key update`;
          await then();
          await tx`insert into hookledger.ledger_streams (org_id, stream, version) values (${t.orgId}, ${`delivery:${delivery.delivery_id}`}, 1)`;
        }).then(() => undefined, (error: unknown) => error as PgError);
      return { t, sub, record, status, command };
    };
    const waitingOnALock = async (query: string) => {
      for (let i = 0; i < 200; i++) {
        const rows = await db.owner`select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like ${`%${query}%`} and pid <> pg_backend_pid()`;
        if (rows.length > 0) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error(`no session waited on a lock running ${query}`);
    };

    it("waits for the command before it locks anything when it writes the endpoint's health: the command goes first, no deadlock", async () => {
      const w = await world();
      let recorded: Promise<PgError | undefined> | undefined;
      const commanded = await w.command(async () => {
        recorded = w.record();
        // The record waits for the endpoint's row. Before sql/085 it had begun the delivery's stream by then, and
        // the command's next statement closed the cycle (40P01 after deadlock_timeout, one side undone).
        await waitingOnALock("record_successes");
      });
      expect(commanded).toBeUndefined();
      // The command's entry came first: the worker records this attempt late, after it (its transactional path).
      expect(await recorded).toMatchObject({ code: "HL409" });
      expect(await w.status()).toBe("pending");
    });

    it("does not wait for a command holding an endpoint row it has no health to write to", async () => {
      const w = await world();
      // A last success in the future: this record has no health to write, so it does not take the row.
      await db.owner`update hookledger.subscriptions set last_success_at = date_trunc('second', now()) + interval '1 hour'
        where org_id = ${w.t.orgId} and subscription_id = ${w.sub.id}`;
      let recorded: PgError | undefined = { code: "not run" };
      const commanded = await w.command(async () => {
        recorded = await w.record();
      });
      expect(recorded).toBeUndefined();
      expect(await w.status()).toBe("succeeded");
      // The command's stream insert then met the recorded attempt's stream: it is the one to decide again.
      expect(commanded).toMatchObject({ code: "23505" });
    });
  });
});
