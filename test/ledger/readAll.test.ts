import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withTenant } from "../../src/db/tenant.ts";
import { append, ANY_VERSION } from "../../src/ledger/append.ts";
import type { NewEntry } from "../../src/ledger/catalogue.ts";
import { readAll, START_OF_LEDGER } from "../../src/ledger/readAll.ts";
import { eventually } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

const entry = (n: number): NewEntry => ({ type: "ledger.partitions_created", data: { partitions: [`p${n}`], months_ahead: n } });

describe("reading the ledger after a checkpoint", () => {
  it("pages through entries in commit-safe order", async () => {
    const org = randomUUID();
    for (let i = 1; i <= 5; i++) await withTenant(db.service, org, (tx) => append(tx, `s:${i % 2}`, ANY_VERSION, [entry(i)]));
    // The snapshot horizon is cluster-wide: a transaction in another test file can briefly hold entries back.
    await eventually(async () => {
      const all = await withTenant(db.service, org, (tx) => readAll(tx));
      return all.entries.length === 5 ? true : undefined;
    });
    const first = await withTenant(db.service, org, (tx) => readAll(tx, { limit: 3 }));
    expect(first.entries.map((e) => e.data)).toEqual([1, 2, 3].map((n) => ({ partitions: [`p${n}`], months_ahead: n })));
    const second = await withTenant(db.service, org, (tx) => readAll(tx, { after: first.checkpoint, limit: 3 }));
    expect(second.entries.map((e) => (e.data as { months_ahead: number }).months_ahead)).toEqual([4, 5]);
    const third = await withTenant(db.service, org, (tx) => readAll(tx, { after: second.checkpoint }));
    expect(third.entries).toEqual([]);
    expect(third.checkpoint).toEqual(second.checkpoint);
  });

  it("never skips an entry whose transaction commits after a later position was read", async () => {
    const org = randomUUID();
    let releaseSlow!: () => void;
    const slowMayCommit = new Promise<void>((resolve) => (releaseSlow = resolve));
    let slowAppended!: () => void;
    const slowHasAppended = new Promise<void>((resolve) => (slowAppended = resolve));
    // The slow writer takes a lower position first and commits last.
    const slow = withTenant(db.service, org, async (tx) => {
      const recorded = await append(tx, "s:slow", ANY_VERSION, [entry(1)]);
      slowAppended();
      await slowMayCommit;
      return recorded;
    });
    await slowHasAppended;
    const fast = await withTenant(db.service, org, (tx) => append(tx, "s:fast", ANY_VERSION, [entry(2)]));
    const slowPosition = BigInt((await Promise.race([slow, Promise.resolve(undefined)]))?.[0]?.position ?? 0);
    expect(slowPosition).toBe(0n); // still running

    // While the slow transaction is open, the fast (higher-position) entry is held back, not handed out.
    const during = await withTenant(db.service, org, (tx) => readAll(tx, { after: START_OF_LEDGER }));
    expect(during.entries).toEqual([]);

    releaseSlow();
    const slowRecorded = await slow;
    expect(BigInt(slowRecorded[0]!.position)).toBeLessThan(BigInt(fast[0]!.position));
    const after = await eventually(async () => {
      const read = await withTenant(db.service, org, (tx) => readAll(tx, { after: during.checkpoint }));
      return read.entries.length === 2 ? read : undefined;
    });
    expect(after.entries.map((e) => e.stream)).toEqual(["s:slow", "s:fast"]);
  });
});
