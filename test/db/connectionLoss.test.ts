/**
 * A connection that dies under a query fails that query's caller, and only it: the process keeps running, nothing
 * waits forever, and the pool answers the next query.
 *
 * Why a test of the driver: postgres.js 3.4.9 rolls a failed transaction back on the connection that just closed,
 * which threw an uncaught TypeError from a `setImmediate` callback (porsager/postgres#1066, #1208) and ended the
 * process, or left the dead query's state on the connection so that the next queries on it failed with an old
 * error or never settled. The project patches the driver at install (`.install/patch-postgres.mjs`); these fail
 * if the patch is missing or no longer fits the installed driver. The backends are ended with
 * `pg_terminate_backend`, which is what a Postgres restart or failover does to every connection at once.
 */
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Sql } from "../../src/db/connect.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
let killer: Sql;

beforeAll(async () => {
  db = await createTestDatabase();
  killer = connect(db.ownerUrl, { max: 1, applicationName: "hookledger-test-killer" });
});
afterAll(async () => {
  await killer?.end({ timeout: 5 });
  await db?.drop();
});

/** Errors that escaped every promise while `fn` ran, and for a moment after (a deferred write runs later). */
async function uncaughtDuring(fn: () => Promise<void>): Promise<unknown[]> {
  const escaped: unknown[] = [];
  const record = (error: unknown) => escaped.push(error);
  process.on("uncaughtException", record);
  try {
    await fn();
    await sleep(100);
  } finally {
    process.off("uncaughtException", record);
  }
  return escaped;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What `promise` settled with, or "pending" if it had not settled within five seconds. */
async function settled(promise: Promise<unknown>): Promise<unknown> {
  return Promise.race([promise.then((value) => value, (error: unknown) => error), sleep(5000).then(() => "pending")]);
}

async function terminate(pid: number | undefined): Promise<void> {
  await killer`select pg_terminate_backend(${pid ?? 0})`;
}

async function answers(sql: Sql): Promise<unknown> {
  return settled(sql<{ n: number }[]>`select 1 as n`.then(([row]) => row?.n));
}

describe("a connection lost under a query", () => {
  it("fails a transaction whose next statement meets the closing connection, and the pool answers after it", async () => {
    const sql = connect(db.serviceUrl, { max: 2, applicationName: "hookledger-test-victim" });
    try {
      // Several rounds: each reconnects a connection an earlier round lost, which is where old state showed.
      for (let round = 0; round < 6; round++) {
        let outcome: unknown;
        const escaped = await uncaughtDuring(async () => {
          outcome = await settled(
            sql.begin(async (tx) => {
              const [row] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
              await terminate(row?.pid);
              await tx`select 1`;
              return "committed";
            }),
          );
        });
        expect(escaped).toEqual([]);
        expect(outcome).toBeInstanceOf(Error);
        expect(await answers(sql)).toBe(1);
      }
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  it("fails a statement sent after the connection has closed instead of throwing from the driver's deferred write", async () => {
    const sql = connect(db.serviceUrl, { max: 2, applicationName: "hookledger-test-victim" });
    try {
      for (let round = 0; round < 4; round++) {
        let inside: unknown;
        let outcome: unknown;
        const escaped = await uncaughtDuring(async () => {
          const transaction = sql.begin(async (tx) => {
            const [row] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
            await terminate(row?.pid);
            await sleep(100); // the driver has seen the close by now; the statement below is written after it
            inside = await settled(tx`select 1`);
            return "committed";
          });
          outcome = await settled(transaction);
          await sleep(150);
        });
        expect(escaped).toEqual([]);
        expect(outcome).toBeInstanceOf(Error);
        expect(inside).toBeInstanceOf(Error);
        expect((inside as { code?: string }).code).toBe("CONNECTION_CLOSED");
        expect(await answers(sql)).toBe(1);
      }
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  it("sends nothing more on a transaction's lost connection while it reconnects for a query that was waiting for it", async () => {
    const sql = connect(db.serviceUrl, { max: 1, applicationName: "hookledger-test-victim" });
    try {
      for (let round = 0; round < 4; round++) {
        let waiting: Promise<unknown> | undefined;
        let outcome: unknown;
        const escaped = await uncaughtDuring(async () => {
          outcome = await settled(
            sql.begin(async (tx) => {
              const [row] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
              // The pool's only connection is this transaction's: this query waits for it, and gets it when it closes.
              waiting = settled(sql<{ n: number }[]>`select ${round}::int as n`.then(([answer]) => answer?.n));
              await terminate(row?.pid);
              await sleep(100);
              await tx`select 1`;
              return "committed";
            }),
          );
        });
        expect(escaped).toEqual([]);
        expect(outcome).toBeInstanceOf(Error);
        expect(await waiting).toBe(round);
        expect(await answers(sql)).toBe(1);
      }
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  // Only migrations reserve a connection (for their advisory lock, at start-up). Releasing a reserved connection
  // whose backend ended still hands the dead connection back to the pool (porsager/postgres#1168, not patched), so
  // this checks only what the patch promises: its statements fail and nothing escapes.
  it("fails every later statement on a reserved connection whose backend ended, without an uncaught error", async () => {
    const sql = connect(db.serviceUrl, { max: 2, applicationName: "hookledger-test-victim" });
    try {
      const escaped = await uncaughtDuring(async () => {
        const reserved = await sql.reserve();
        const [row] = await reserved<{ pid: number }[]>`select pg_backend_pid() as pid`;
        await terminate(row?.pid);
        expect(await settled(reserved`select 1`)).toBeInstanceOf(Error);
        expect(await settled(reserved`select 2`)).toBeInstanceOf(Error);
      });
      expect(escaped).toEqual([]);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });
});

/**
 * A TCP relay to the test database whose client-side sockets can all be reset at once: the client then sees
 * ECONNRESET, a close with an error, as when a server or a network drops every connection.
 */
async function resettableRelay(target: URL): Promise<{ url: string; resetAll: () => void; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(target);
  url.hostname = "127.0.0.1";
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.toString(),
    resetAll: () => {
      for (const socket of sockets) socket.resetAndDestroy();
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe("every connection reset at once", () => {
  it("reconnects within a second or so, however many connections the reset closed with an error", async () => {
    const relay = await resettableRelay(new URL(db.serviceUrl));
    const sql = connect(relay.url, { max: 10, applicationName: "hookledger-test-reset" });
    try {
      for (let round = 0; round < 3; round++) {
        // Ten connections open (the pool opens them for ten statements at once) and busy, then every one reset.
        await Promise.all(Array.from({ length: 10 }, () => sql`select pg_sleep(0.05)`));
        const sleeping = Array.from({ length: 10 }, () => settled(sql`select pg_sleep(5)`));
        await sleep(200);
        relay.resetAll();
        const outcomes = await Promise.all(sleeping);
        expect(outcomes.filter((outcome) => (outcome as { code?: string }).code === "ECONNRESET").length).toBeGreaterThanOrEqual(5);
        // postgres.js's own back-off counted each reset and waited 3^10/100 s, capped at 10-20 s, before the next
        // connection: a query sent now waited that long.
        // (A statement sent while the last closes are being handled may fail: sent again, as a caller would.)
        const started = performance.now();
        let answer = await answers(sql);
        while (answer !== 1 && performance.now() - started < 15_000) answer = await answers(sql);
        expect(answer).toBe(1);
        expect(performance.now() - started).toBeLessThan(3000);
      }
    } finally {
      await sql.end({ timeout: 5 });
      await relay.close();
    }
  });
});
