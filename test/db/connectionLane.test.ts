/**
 * A connection lane: statements handed to it while one runs go to the same connection, behind it; the connection
 * goes back to the pool when none is in flight; a lane whose connection was lost fails only what was on it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Sql } from "../../src/db/connect.ts";
import { ConnectionLane } from "../../src/db/connectionLane.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

/** What `promise` settled with (its value or its error), with a handler attached at once. */
const outcomeOf = (promise: Promise<unknown>): Promise<unknown> => promise.then((value) => value, (error: unknown) => error);

const pidOf = async (sql: Sql) => (await sql<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]?.pid;

describe("connection lane", () => {
  it("runs statements handed to it together on one connection, in order, while the pool's other connections stay free", async () => {
    const sql = connect(db.serviceUrl, { max: 3, applicationName: "hookledger-test-lane" });
    try {
      // Every connection open and idle first, so the lane's reservation does not wait for the first to be free.
      await Promise.all([1, 2, 3].map(() => sql`select pg_sleep(0.01)`));
      const lane = new ConnectionLane(sql);
      const finished: number[] = [];
      // The first sleeps; the others are sent behind it, so they run after it, on its backend.
      const runs = [30, 0, 0].map((ms, i) =>
        lane.run(async (conn) => {
          const [row] = await conn<{ pid: number }[]>`select pg_backend_pid() as pid, pg_sleep(${ms / 1000})`;
          finished.push(i);
          return row?.pid;
        }),
      );
      // Meanwhile the pool answers from another connection.
      const other = await pidOf(sql);
      const pids = await Promise.all(runs);
      expect(new Set(pids).size).toBe(1);
      expect(pids[0]).not.toBe(other);
      expect(finished).toEqual([0, 1, 2]);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  it("gives its connection back when nothing is in flight, so a one-connection pool serves others between its statements", async () => {
    const sql = connect(db.serviceUrl, { max: 1, applicationName: "hookledger-test-lane" });
    try {
      const lane = new ConnectionLane(sql);
      for (let i = 0; i < 3; i++) {
        expect(await lane.run((conn) => conn`select ${i}::int as n`.then(([row]) => row?.n))).toBe(i);
        expect(await sql`select 1 as n`.then(([row]) => row?.n)).toBe(1);
      }
    } finally {
      // A connection reserved and given back does not hold the pool's shutdown up until its timeout.
      const started = performance.now();
      await sql.end({ timeout: 5 });
      expect(performance.now() - started).toBeLessThan(2000);
    }
  });

  it("fails the statements on a lost connection, and the lane and the pool answer afterwards", async () => {
    const sql = connect(db.serviceUrl, { max: 2, applicationName: "hookledger-test-lane" });
    try {
      const lane = new ConnectionLane(sql);
      for (let round = 0; round < 4; round++) {
        // A statement new to the connection asks for its parameter types first, and the driver holds the next one
        // back until it has them: the one behind waits in the reservation, not on the connection.
        // Their outcomes are taken at once: the close may reach this process before the terminating query's answer.
        const running = outcomeOf(lane.run((conn) => conn.unsafe(`select pg_sleep($1) as slept_${round}`, [5])));
        const behind = outcomeOf(lane.run((conn) => conn`select ${2}::int as n`));
        await new Promise((resolve) => setTimeout(resolve, 50));
        await db.owner`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'hookledger-test-lane' and query like '%pg_sleep($1)%' and pid <> pg_backend_pid()`;
        expect(await running).toBeInstanceOf(Error);
        expect(await behind).toBeInstanceOf(Error);
        // A statement sent at once, while the driver may still be reconnecting that connection for someone else,
        // fails or answers, but never hangs; the next one answers.
        await Promise.race([lane.run((conn) => conn`select 1`).catch(() => undefined), new Promise((_, reject) => setTimeout(() => reject(new Error("hung")), 5000))]);
        expect(await lane.run((conn) => conn`select ${round}::int as n`.then(([row]) => row?.n))).toBe(round);
        // Every connection of the pool answers (two at once, so both are used).
        expect(await Promise.all([pidOf(sql), pidOf(sql)]).then((pids) => pids.every((pid) => typeof pid === "number"))).toBe(true);
      }
    } finally {
      await sql.end({ timeout: 5 });
    }
  });
});
