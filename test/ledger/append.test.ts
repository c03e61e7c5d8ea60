import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withTenant } from "../../src/db/tenant.ts";
import { ANY_VERSION, append, appendToStreams, STREAM_DOES_NOT_EXIST } from "../../src/ledger/append.ts";
import type { NewEntry } from "../../src/ledger/catalogue.ts";
import { InvalidEntryError, StreamVersionConflictError } from "../../src/ledger/errors.ts";
import { readStream } from "../../src/ledger/readStream.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

const entry = (n: number): NewEntry => ({
  type: "ledger.partitions_created",
  data: { partitions: [`p${n}`], months_ahead: n },
  meta: { actor: { kind: "system" }, request_id: `req_${n}` },
});

/** Counted as the owner, a superuser on the test server, so row-level security cannot hide anything. */
const countRows = async (orgId: string) => {
  const [row] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger where org_id = ${orgId}`;
  return row?.n ?? -1;
};

describe("append", () => {
  it("appends in order with per-stream versions and global positions", async () => {
    const org = randomUUID();
    const recorded = await withTenant(db.service, org, (tx) => append(tx, "thing:1", STREAM_DOES_NOT_EXIST, [entry(1), entry(2)]));
    expect(recorded.map((r) => r.version)).toEqual([1, 2]);
    expect(BigInt(recorded[1]!.position)).toBeGreaterThan(BigInt(recorded[0]!.position));
    expect(recorded[0]).toMatchObject({ orgId: org, stream: "thing:1", type: "ledger.partitions_created" });

    const more = await withTenant(db.service, org, (tx) => append(tx, "thing:1", 2, [entry(3)]));
    expect(more[0]?.version).toBe(3);

    const read = await withTenant(db.service, org, (tx) => readStream(tx, "thing:1"));
    expect(read.map((r) => [r.version, r.data])).toEqual([
      [1, { partitions: ["p1"], months_ahead: 1 }],
      [2, { partitions: ["p2"], months_ahead: 2 }],
      [3, { partitions: ["p3"], months_ahead: 3 }],
    ]);
    expect(read[0]?.meta).toEqual({ actor: { kind: "system" }, request_id: "req_1" });
    const fromTwo = await withTenant(db.service, org, (tx) => readStream(tx, "thing:1", { fromVersion: 2, limit: 1 }));
    expect(fromTwo.map((r) => r.version)).toEqual([2]);
  });

  it("refuses a stale expected version with a typed conflict and writes nothing, in any stream of the call", async () => {
    const org = randomUUID();
    await withTenant(db.service, org, (tx) => append(tx, "thing:a", STREAM_DOES_NOT_EXIST, [entry(1), entry(2)]));
    const attempt = withTenant(db.service, org, (tx) =>
      appendToStreams(tx, [
        { stream: "thing:new", expectedStreamVersion: STREAM_DOES_NOT_EXIST, entries: [entry(9)] },
        { stream: "thing:a", expectedStreamVersion: 1, entries: [entry(3)] },
      ]),
    );
    await expect(attempt).rejects.toBeInstanceOf(StreamVersionConflictError);
    await expect(attempt).rejects.toMatchObject({ stream: "thing:a", expectedVersion: 1, actualVersion: 2 });
    expect(await countRows(org)).toBe(2);
    const created = await withTenant(db.service, org, (tx) => readStream(tx, "thing:new"));
    expect(created).toEqual([]);
  });

  it("refuses to create a stream that exists, and ANY_VERSION appends wherever it is", async () => {
    const org = randomUUID();
    await withTenant(db.service, org, (tx) => append(tx, "thing:b", ANY_VERSION, [entry(1)]));
    await expect(withTenant(db.service, org, (tx) => append(tx, "thing:b", STREAM_DOES_NOT_EXIST, [entry(2)]))).rejects.toMatchObject({
      name: "StreamVersionConflictError",
      actualVersion: 1,
    });
    const next = await withTenant(db.service, org, (tx) => append(tx, "thing:b", ANY_VERSION, [entry(2)]));
    expect(next[0]?.version).toBe(2);
    await expect(withTenant(db.service, org, (tx) => append(tx, "thing:none", 4, [entry(1)]))).rejects.toMatchObject({ actualVersion: 0 });
  });

  it("lets exactly one of two concurrent writers with the same expected version win", async () => {
    const org = randomUUID();
    await withTenant(db.service, org, (tx) => append(tx, "thing:race", STREAM_DOES_NOT_EXIST, [entry(1)]));
    const results = await Promise.allSettled(
      [0, 1, 2, 3].map(() => withTenant(db.service, org, (tx) => append(tx, "thing:race", 1, [entry(2)]))),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(results.filter((r) => r.status === "rejected").every((r) => (r as PromiseRejectedResult).reason instanceof StreamVersionConflictError)).toBe(true);
    expect(await countRows(org)).toBe(2);
  });

  it("refuses unknown types, invalid data and unknown meta keys before touching the database", async () => {
    const org = randomUUID();
    const bad: unknown[] = [
      { type: "thing.happened", data: {} },
      { type: "ledger.partitions_created", data: { partitions: "p1", months_ahead: 1 } },
      { type: "ledger.partitions_created", data: { partitions: [], months_ahead: 1, extra: true } },
      { type: "ledger.partitions_created", data: { partitions: [], months_ahead: 1 }, meta: { authorization: "Bearer x" } },
    ];
    for (const item of bad) {
      await expect(withTenant(db.service, org, (tx) => append(tx, "thing:c", ANY_VERSION, [item as NewEntry]))).rejects.toBeInstanceOf(InvalidEntryError);
    }
    expect(await countRows(org)).toBe(0);
  });

  it("cannot append or read without a tenant, nor read another tenant's stream", async () => {
    const orgA = randomUUID();
    const orgB = randomUUID();
    await withTenant(db.service, orgA, (tx) => append(tx, "thing:secret", STREAM_DOES_NOT_EXIST, [entry(1)]));
    await expect(db.service.begin((tx) => append(tx, "thing:x", ANY_VERSION, [entry(1)]))).rejects.toThrow(/no tenant set/);
    expect(await db.service`select * from hookledger.ledger`).toHaveLength(0);
    expect(await withTenant(db.service, orgB, (tx) => readStream(tx, "thing:secret"))).toEqual([]);
    // Writing a row for another tenant directly is refused by the policy's WITH CHECK.
    await expect(
      withTenant(db.service, orgB, (tx) => tx`
        insert into hookledger.ledger (org_id, stream, version, type, data) values (${orgA}, 'thing:forged', 1, 'ledger.partitions_created', '{}')`),
    ).rejects.toThrow(/row-level security/);
  });
});
