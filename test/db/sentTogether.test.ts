/**
 * Statements sent together on one transaction: when the first fails, the transaction fails with that statement's
 * error as its caller shaped it, not with the 25P02 of a statement behind it nor with postgres.js's raw copy.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Tx } from "../../src/db/connect.ts";
import { sentTogether } from "../../src/db/sentTogether.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

class ShapedError extends Error {}

/** A statement that fails, its error turned into ShapedError a little later, as a caller's own handling may be. */
const failingShaped = (tx: Tx) =>
  tx`select 1 / 0`.then(
    () => undefined,
    async (error: unknown) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      throw new ShapedError(String(error));
    },
  );

describe("sentTogether", () => {
  it("rejects with the first failed statement's error as its caller shaped it", async () => {
    const failure = await db.owner.begin((tx) => sentTogether([failingShaped(tx), tx`select 2 as two`, tx`select 3 as three`])).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ShapedError);
    expect(String(failure)).toContain("division by zero");
  });

  it("is needed: Promise.all lets a statement behind the failure decide, and postgres.js then throws the raw error", async () => {
    const failure = await db.owner.begin((tx) => Promise.all([failingShaped(tx), tx`select 2 as two`])).catch((error: unknown) => error);
    expect(failure).not.toBeInstanceOf(ShapedError);
    expect((failure as { code?: string }).code).toBe("22012");
  });

  it("resolves with every statement's result in order, and the transaction commits", async () => {
    await db.owner`create table sent_together (n int)`;
    const [inserted, two] = await db.owner.begin((tx) =>
      sentTogether([tx<{ n: number }[]>`insert into sent_together values (1) returning n`, tx<{ two: number }[]>`select 2 as two`]),
    );
    expect(inserted.map((row) => row.n)).toEqual([1]);
    expect(two[0]?.two).toBe(2);
    expect(await db.owner`select n from sent_together`).toEqual([{ n: 1 }]);
  });
});
