/**
 * Two delivery rules no other test pins, checked through real deliveries to a loopback receiver and observed only
 * through the HTTP API and the deliveries rows (never the worker's internals, so they hold whatever the worker's
 * shape):
 * - an endpoint's Retry-After is honoured only up to HOOKLEDGER_RETRY_AFTER_MAX_SECONDS;
 * - the attempt that auto-disables a subscription cancels its other open deliveries at once, instead of leaving
 *   them `retrying` until their next attempt finds the subscription disabled.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "./setup.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are asserted field by field */

const RETRY_AFTER_CAP_SECONDS = 30;
const AUTO_DISABLE_FAILURES = 3;

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, {
    worker: true,
    env: {
      HOOKLEDGER_RETRY_AFTER_MAX_SECONDS: String(RETRY_AFTER_CAP_SECONDS),
      HOOKLEDGER_AUTO_DISABLE_FAILURES: String(AUTO_DISABLE_FAILURES),
      HOOKLEDGER_AUTO_DISABLE_PERIOD_SECONDS: "0",
    },
  });
  receiver = await startReceiver();
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

describe("Retry-After cap", () => {
  it.each([
    ["delay seconds", "seconds", () => "999999"],
    ["an HTTP date", "date", () => new Date(Date.now() + 30 * 86_400_000).toUTCString()],
  ])("a 503 with a far-off Retry-After (%s) schedules the next attempt at most the cap later", async (_form, name, retryAfter) => {
    const t = await outboundTenant(app);
    const path = `/busy-${name}`;
    receiver.respond(path, { status: 503, headers: { "Retry-After": retryAfter() } });
    // The schedule alone would retry after 50 ms: a next attempt ~30 s out can only come from the capped header.
    const sub = await t.subscribe({ url: receiver.url(path), retry_schedule: [0.05], max_attempts: 5 });
    const sent = await t.send({ event_id: `capped_${name}` });
    expect(sent.status).toBe(202);
    const attempt = await eventually(async () => (await app.call("GET", `/v1/attempts?subscription_id=${sub.id}`, t.token)).body.data[0], 15_000, "the first attempt");
    expect(attempt).toMatchObject({ attempt: 1, outcome: "failed", status_code: 503 });
    const delay = (Date.parse(attempt.next_attempt_at) - Date.parse(attempt.attempted_at)) / 1000;
    expect(delay).toBeGreaterThanOrEqual(RETRY_AFTER_CAP_SECONDS - 2);
    expect(delay).toBeLessThanOrEqual(RETRY_AFTER_CAP_SECONDS + 2);
    const delivery = (await app.call("GET", `/v1/deliveries/${attempt.delivery_id}`, t.token)).body;
    expect(delivery).toMatchObject({ status: "retrying", next_attempt_at: attempt.next_attempt_at });
    expect(receiver.requests.filter((r) => r.path === path)).toHaveLength(1);
  });
});

describe("auto-disable", () => {
  it("cancels the subscription's other open deliveries at once", async () => {
    const t = await outboundTenant(app);
    receiver.respond("/failing", { status: 500 });
    // An hour between attempts: a delivery still open after the disabling attempt would stay `retrying` that long.
    const sub = await t.subscribe({ url: receiver.url("/failing"), retry_schedule: [3600], max_attempts: 10 });
    const deliveryOf = async (eventId: string) => (await app.call("GET", `/v1/events/${eventId}`, t.token)).body.deliveries[0];
    const eventIds = Array.from({ length: AUTO_DISABLE_FAILURES }, (_, n) => `disable_${n}`);
    // One at a time, so the first deliveries are parked `retrying` before the last attempt disables the subscription.
    for (const eventId of eventIds.slice(0, -1)) {
      expect((await t.send({ event_id: eventId })).status).toBe(202);
      const parked = await eventually(async () => ((await deliveryOf(eventId))?.status === "retrying" ? deliveryOf(eventId) : undefined), 15_000, `${eventId} retrying`);
      expect(Date.parse(parked.next_attempt_at) - Date.now()).toBeGreaterThan(3000 * 1000);
    }
    expect((await app.call("GET", `/v1/subscriptions/${sub.id}`, t.token)).body.enabled).toBe(true);

    expect((await t.send({ event_id: eventIds.at(-1) })).status).toBe(202);
    const disabled = await eventually(async () => {
      const current = (await app.call("GET", `/v1/subscriptions/${sub.id}`, t.token)).body;
      return current.enabled ? undefined : current;
    }, 15_000, "the subscription to be auto-disabled");
    expect(disabled).toMatchObject({ disabled_reason: "auto_disabled", health: { consecutive_failures: AUTO_DISABLE_FAILURES } });

    // "At once": within seconds of the disabling attempt, not at the next attempt an hour away.
    const rows = await eventually(async () => {
      const current = await db.owner<{ status: string; next_attempt_at: Date | null }[]>`
        select status, next_attempt_at from hookledger.deliveries where subscription_id = ${sub.id}`;
      return current.every((row) => row.status === "cancelled") ? current : undefined;
    }, 5_000, "every delivery of the subscription to be cancelled");
    expect(rows).toHaveLength(AUTO_DISABLE_FAILURES);
    expect(rows.every((row) => row.next_attempt_at === null)).toBe(true);
    for (const eventId of eventIds) expect(await deliveryOf(eventId)).toMatchObject({ status: "cancelled", attempts: 1, next_attempt_at: null });
    expect(receiver.requests.filter((r) => r.path === "/failing")).toHaveLength(AUTO_DISABLE_FAILURES);
  });
});
