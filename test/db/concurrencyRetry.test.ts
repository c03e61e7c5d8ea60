/**
 * withTenant runs a transaction Postgres undid for a concurrent one (a deadlock it broke by failing this side) again,
 * so two commands that meet in a lock cycle both succeed instead of one answering 503. Two transactions take the
 * same two advisory locks in opposite orders, each holding its first until the other holds its own: a cycle
 * Postgres breaks after deadlock_timeout (1 s) by failing one of them with 40P01.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Tx } from "../../src/db/connect.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

/** Two transactions that deadlock on their first runs: each takes its first lock, waits for the other's, then the other lock. */
function cycle(options: { retryConcurrency?: boolean }) {
  const org = randomUUID();
  const key = Math.floor(Math.random() * 1e9);
  const runs = { first: 0, second: 0 };
  let firstHolds!: () => void;
  let secondHolds!: () => void;
  const firstHeld = new Promise<void>((resolve) => (firstHolds = resolve));
  const secondHeld = new Promise<void>((resolve) => (secondHolds = resolve));
  const side = (name: "first" | "second", mine: number, theirs: number, holds: () => void, theirsHeld: Promise<void>) =>
    withTenant(
      db.service,
      org,
      async (tx: Tx) => {
        runs[name] += 1;
        await tx`select pg_advisory_xact_lock(${mine})`;
        holds();
        await theirsHeld;
        await tx`select pg_advisory_xact_lock(${theirs})`;
        return name;
      },
      options,
    );
  return {
    runs,
    settled: Promise.allSettled([side("first", key, key + 1, firstHolds, secondHeld), side("second", key + 1, key, secondHolds, firstHeld)]),
  };
}

describe("withTenant and concurrent transactions", () => {
  it("runs the side Postgres failed with a deadlock again, so both transactions commit", async () => {
    const { runs, settled } = cycle({});
    const outcomes = await settled;
    expect(outcomes.map((outcome) => outcome.status)).toEqual(["fulfilled", "fulfilled"]);
    // One side ran once; the other was undone once and ran again.
    expect([runs.first, runs.second].sort()).toEqual([1, 2]);
  });

  it("leaves the deadlock to the caller when asked not to run again", async () => {
    const { runs, settled } = cycle({ retryConcurrency: false });
    const outcomes = await settled;
    const failed = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === "rejected");
    expect(failed).toHaveLength(1);
    expect((failed[0]?.reason as { code?: string }).code).toBe("40P01");
    expect(runs).toEqual({ first: 1, second: 1 });
  });
});
