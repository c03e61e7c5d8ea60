/**
 * Manual retries and recovers of the same deliveries sent at the same time are decided one after another: the first
 * queues the next attempt, the others find the delivery pending and queue nothing. Before, each read the failed
 * delivery and queued the same attempt number: the receiver got that attempt several times, and the delivery could
 * stay pending for good (the jobs after the first were skipped as "attempt already made" once it was recorded).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { deliveryStream } from "../../src/outbound/appends.ts";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { allAtOnce, statuses, streamEntries } from "./allAtOnce.ts";
import { outboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let t: Awaited<ReturnType<typeof outboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true });
  receiver = await startReceiver();
});
beforeEach(async () => {
  t = await outboundTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db?.drop();
});

const times = <T>(n: number, make: (i: number) => Promise<T>) => Array.from({ length: n }, (_, i) => make(i));
const attemptHeaders = (path: string) => receiver.requests.filter((request) => request.path === path).map((request) => request.headers["x-hookledger-attempt"]);
/** Long enough for any job queued by mistake to have run (the worker here picks a job up within milliseconds). */
const quietly = () => new Promise((resolve) => setTimeout(resolve, 1_000));

describe("concurrent manual retries", () => {
  it("queues one attempt when ten retries of a failed delivery arrive together, and the delivery ends", async () => {
    // The retried attempt answers slowly: the retries decided after the first one (each waits for the one before, on
    // the stream and the delivery's row) must find the delivery still pending, not already failed again, on a loaded
    // machine (CI saw a third attempt: the worker had failed attempt 2 before the last retry decided).
    receiver.respond("/retry-race", { status: 500 }, { status: 500, delayMs: 2_000 });
    await t.subscribe({ url: receiver.url("/retry-race"), max_attempts: 1, event_types: ["invoice.paid"] });
    await t.send({ event_id: "retry_race_1" });
    const failed = await t.settled("retry_race_1", "failed");
    expect(attemptHeaders("/retry-race")).toEqual(["1"]);

    const stream = deliveryStream(failed.id);
    // All ten wait (one for the stream, nine for the delivery's row) before any decides: a retry arriving after the
    // retried attempt failed would rightly retry again.
    const answers = await allAtOnce(db, { kind: "stream", orgId: t.orgId, stream }, () => times(10, () => app.call("POST", `/v1/deliveries/${failed.id}/retry`, t.token)), { waiting: 10 });
    expect(statuses(answers)).toEqual(Array(10).fill(202));
    for (const answer of answers) expect(answer.body.status).toBe("pending");

    const done = await t.settled("retry_race_1", "failed");
    await quietly();
    expect(attemptHeaders("/retry-race")).toEqual(["1", "2"]);
    expect(done.attempts).toBe(2);
    expect((await streamEntries(db, t.orgId, stream)).filter((type) => type === "delivery.retry_requested")).toHaveLength(1);
  });

  it("answers a retry of a delivery whose attempt is out with the delivery, queueing nothing more", async () => {
    receiver.respond("/retry-twice", { status: 500 }, { status: 200, delayMs: 1_500 });
    await t.subscribe({ url: receiver.url("/retry-twice"), max_attempts: 1, event_types: ["invoice.paid"] });
    await t.send({ event_id: "retry_twice_1" });
    const failed = await t.settled("retry_twice_1", "failed");
    const first = await app.call("POST", `/v1/deliveries/${failed.id}/retry`, t.token);
    expect(first.status).toBe(202);
    // Attempt 2 has reached the receiver, which answers it 1.5 s later: the delivery is pending meanwhile.
    await receiver.waitFor(2, "/retry-twice");
    const second = await app.call("POST", `/v1/deliveries/${failed.id}/retry`, t.token);
    expect(second.status).toBe(202);
    expect(second.body).toMatchObject({ status: "pending", attempts: 1 });
    const done = await t.settled("retry_twice_1", "succeeded");
    await quietly();
    expect(done.attempts).toBe(2);
    expect(attemptHeaders("/retry-twice")).toEqual(["1", "2"]);
  });
});

describe("a manual retry while a scheduled retry's request is out", () => {
  it("makes the attempt asked for after the one that was out, instead of leaving the delivery pending", async () => {
    // One request at a time to this endpoint: the retry's job waits for the slot the scheduled attempt holds, and
    // by its turn that attempt, recorded late after the retry request, has taken the attempt number it was queued for.
    receiver.respond("/retry-out", { status: 500 }, { status: 500, delayMs: 1_000 }, { status: 200 });
    await t.subscribe({ url: receiver.url("/retry-out"), retry_schedule: [0.2], max_attempts: 3, max_concurrency: 1, event_types: ["invoice.paid"] });
    await t.send({ event_id: "retry_out_1" });
    await receiver.waitFor(2, "/retry-out");
    const delivery = await t.deliveryOf("retry_out_1");
    expect(delivery.status).toBe("retrying");
    const retried = await app.call("POST", `/v1/deliveries/${delivery.id}/retry`, t.token);
    expect(retried.status).toBe(202);
    const done = await t.settled("retry_out_1", "succeeded");
    await quietly();
    expect(done.attempts).toBe(3);
    expect(attemptHeaders("/retry-out")).toEqual(["1", "2", "3"]);
  });
});

describe("concurrent recovers", () => {
  it("re-queues each failed delivery once when ten recovers arrive together", async () => {
    // The re-sent attempts answer slowly: the recovers decided after the first one (each waits for the one before,
    // on the delivery rows) must find the deliveries still pending, not already failed again, on a loaded machine.
    receiver.respond("/recover-race", { status: 500 }, { status: 500 }, { status: 500 }, { status: 500, delayMs: 2_000 });
    const sub = await t.subscribe({ url: receiver.url("/recover-race"), max_attempts: 1, event_types: ["invoice.paid"] });
    for (const id of ["recover_race_1", "recover_race_2", "recover_race_3"]) await t.send({ event_id: id });
    const failed = await Promise.all(["recover_race_1", "recover_race_2", "recover_race_3"].map((id) => t.settled(id, "failed")));

    const answers = await allAtOnce(db, { kind: "stream", orgId: t.orgId, stream: deliveryStream(failed[0].id) }, () =>
      times(10, () => app.call("POST", `/v1/subscriptions/${sub.id}/recover`, t.token, { since: "2000-01-01T00:00:00Z" })),
      // All ten wait before any decides: a recover arriving after the re-queued deliveries failed again would rightly
      // re-queue them again.
      { waiting: 10 },
    );
    expect(statuses(answers)).toEqual(Array(10).fill(202));
    expect(answers.map((answer) => answer.body.deliveries_requeued).sort()).toEqual([...Array(9).fill(0), 3]);

    for (const id of ["recover_race_1", "recover_race_2", "recover_race_3"]) expect((await t.settled(id, "failed")).attempts).toBe(2);
    await quietly();
    expect(attemptHeaders("/recover-race").sort()).toEqual(["1", "1", "1", "2", "2", "2"]);
    for (const delivery of failed) {
      expect((await streamEntries(db, t.orgId, deliveryStream(delivery.id))).filter((type) => type === "delivery.retry_requested")).toHaveLength(1);
    }
  });
});
