/**
 * The replay guard's claims against a real Postgres: each nonce is accepted once per route, and two batches that
 * share nonces wait for each other instead of deadlocking, whatever order their requests arrived in.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withTenant } from "../../src/db/tenant.ts";
import { rememberNonces } from "../../src/inbound/replayGuard.ts";
import { eventually } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

const now = new Date();
const expiresAt = new Date(now.getTime() + 300_000);
const claim = (routeId: string, nonces: string[]) => nonces.map((nonce) => ({ routeId, nonce, expiresAt }));

async function lockWaits(): Promise<number> {
  const [row] = await db.owner<{ n: number }[]>`
    select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
  return row?.n ?? 0;
}

describe("rememberNonces", () => {
  it("accepts a nonce once per route, and a repeat inside the batch is a replay", async () => {
    const org = randomUUID();
    expect(await withTenant(db.service, org, (tx) => rememberNonces(tx, claim("rt_a", ["n1", "n2", "n1"]), now))).toEqual([true, true, false]);
    expect(await withTenant(db.service, org, (tx) => rememberNonces(tx, [...claim("rt_a", ["n2", "n3"]), ...claim("rt_b", ["n2"])], now))).toEqual([false, true, true]);
  });

  it("lets two batches holding the same nonces in opposite orders wait for each other, not deadlock", async () => {
    const org = randomUUID();
    // A third transaction holds nonce x, uncommitted. Batch one arrives as [a, x, y], batch two as [y, a]. Claimed
    // in arrival order, one would take a and wait at x, two take y and wait at a, and once x is released one would
    // wait at y: a cycle Postgres breaks by failing a batch (40P01).
    let held!: () => void;
    const holding = new Promise<void>((resolve) => (held = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const holder = withTenant(db.service, org, async (tx) => {
      await rememberNonces(tx, claim("rt_c", ["x"]), now);
      held();
      await released;
    });
    await holding;
    // Not run again on a deadlock (withTenant would): this test is of the lock order itself.
    const one = withTenant(db.service, org, (tx) => rememberNonces(tx, claim("rt_c", ["a", "x", "y"]), now), { retryConcurrency: false });
    await eventually(async () => ((await lockWaits()) >= 1 ? true : undefined), 15_000, "batch one waiting at x");
    let twoSettled = false;
    const two = withTenant(db.service, org, (tx) => rememberNonces(tx, claim("rt_c", ["y", "a"]), now), { retryConcurrency: false }).finally(() => (twoSettled = true));
    await eventually(async () => (twoSettled || (await lockWaits()) >= 2 ? true : undefined), 15_000, "batch two waiting or done");
    release();
    await holder;
    const [first, second] = await Promise.allSettled([one, two]);
    expect(first.status).toBe("fulfilled");
    expect(second.status).toBe("fulfilled");
    const accepted = (first as PromiseFulfilledResult<boolean[]>).value;
    const acceptedTwo = (second as PromiseFulfilledResult<boolean[]>).value;
    // x was the holder's; a and y were each accepted by exactly one of the two batches.
    expect(accepted[1]).toBe(false);
    expect(Number(accepted[0]) + Number(acceptedTwo[1])).toBe(1);
    expect(Number(accepted[2]) + Number(acceptedTwo[0])).toBe(1);
  });
});
