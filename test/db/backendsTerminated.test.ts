/**
 * Every database connection of a running hookledger ended at once, three times, under load — what a Postgres
 * restart or a failover does to it. The real process (`bun src/main.ts`, API and worker) keeps running, each
 * request in flight is answered 202 or 503 `unavailable` (never 500, never left hanging), every accepted event is
 * recorded and delivered, and the next requests are served on new connections.
 *
 * Why a separate process: the crashes this guards against (an uncaught TypeError from postgres.js's deferred write,
 * an unhandled rejection from graphile-worker's local queue) end a process, which an in-process test cannot watch
 * without its own handlers hiding them.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Sql } from "../../src/db/connect.ts";
import { eventually, jsonCaller, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { freePort } from "../support/freePort.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "../outbound/setup.ts";

let db: TestDatabase;
let receiver: Receiver;
let killer: Sql;
let service: ChildProcess;
let output = "";
let baseUrl: string;
/** The JSON helper the tenant set-up uses, against the spawned process; a request unanswered in 15 s fails. */
let app: Pick<TestApp, "call">;

beforeAll(async () => {
  db = await createTestDatabase();
  receiver = await startReceiver();
  killer = connect(db.ownerUrl, { max: 1, applicationName: "hookledger-test-killer" });
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  app = { call: jsonCaller(baseUrl, 15_000) };
  service = spawn("node_modules/.bin/bun", ["src/main.ts"], {
    env: {
      ...process.env,
      DATABASE_URL: db.ownerUrl,
      HOOKLEDGER_SERVICE_DATABASE_URL: db.serviceUrl,
      PORT: String(port),
      HOOKLEDGER_HOST: "127.0.0.1",
      HOOKLEDGER_LOG_LEVEL: "warn",
      HOOKLEDGER_ADMIN_TOKEN: "env:HOOKLEDGER_TEST_ADMIN_TOKEN",
      HOOKLEDGER_ENCRYPTION_KEYS: "env:HOOKLEDGER_TEST_KEYRING",
      HOOKLEDGER_WORKER_POLL_INTERVAL_MS: "100",
      HOOKLEDGER_MIN_RETRY_DELAY_MS: "10",
      HOOKLEDGER_RETRY_JITTER_PERCENT: "0",
      // The receiver listens on loopback over plain HTTP; production defaults refuse both.
      HOOKLEDGER_EGRESS_ALLOW_LOOPBACK: "true",
      HOOKLEDGER_EGRESS_HTTPS_ONLY: "false",
      HOOKLEDGER_RATE_LIMIT_TOKEN_RPS: "100000",
      HOOKLEDGER_RATE_LIMIT_TOKEN_BURST: "100000",
      HOOKLEDGER_RATE_LIMIT_IP_RPS: "100000",
      HOOKLEDGER_RATE_LIMIT_IP_BURST: "100000",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  service.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  service.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await eventually(async () => {
    if (service.exitCode !== null) throw new Error(`hookledger exited with ${service.exitCode}:\n${output}`);
    return (await fetch(`${baseUrl}/ready`).catch(() => undefined))?.status === 200 ? true : undefined;
  }, 60_000, "hookledger to be ready");
});
afterAll(async () => {
  if (service && service.exitCode === null) {
    const exited = new Promise((resolve) => service.once("exit", resolve));
    service.kill("SIGTERM");
    await exited;
  }
  await receiver?.close();
  await killer?.end({ timeout: 5 });
  await db?.drop();
});

/** Ends every connection to the test database but the killer's own: the service's pools, its worker, its listeners. */
async function terminateEveryBackend(): Promise<number> {
  const [row] = await killer<{ n: number }[]>`
    select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
    where datname = ${db.name} and pid <> pg_backend_pid()`;
  return row?.n ?? 0;
}

describe("every database connection of a running hookledger ended under load", () => {
  it("keeps the process running, answers each request 202 or 503, and delivers every accepted event", async () => {
    const tenant = await outboundTenant(app);
    await tenant.subscribe({ url: receiver.url("/terminated") });

    const answers: { eventId: string; status: number; type?: string }[] = [];
    let sent = 0;
    let stop = false;
    const client = async () => {
      while (!stop) {
        const eventId = `evt_terminated_${sent++}`;
        try {
          const response = await tenant.send({ event_id: eventId });
          answers.push({ eventId, status: response.status, type: response.body?.type });
        } catch (error) {
          // No answer at all (within 15 s): the request hung, or the process ended (its output is asserted below).
          answers.push({ eventId, status: 0, type: String(error) });
          return;
        }
      }
    };
    const clients = Array.from({ length: 8 }, client);
    try {
      for (let round = 0; round < 3; round++) {
        await new Promise((resolve) => setTimeout(resolve, 400));
        expect(await terminateEveryBackend()).toBeGreaterThan(0);
      }
      await new Promise((resolve) => setTimeout(resolve, 400));
    } finally {
      stop = true;
      await Promise.all(clients);
    }
    expect(service.exitCode, `hookledger ended:\n${output}`).toBeNull();

    const unexpected = answers.filter((answer) => answer.status !== 202 && !(answer.status === 503 && answer.type === "urn:hookledger:problem:unavailable"));
    expect(unexpected, output.slice(-6000)).toEqual([]);
    const accepted = answers.filter((answer) => answer.status === 202).map((answer) => answer.eventId);
    expect(accepted.length).toBeGreaterThan(0);

    // Every accepted event is recorded, and reaches the receiver at least once (webhook-id is the event id).
    const recorded = await db.owner<{ event_id: string }[]>`select event_id from hookledger.events where event_id = any(${accepted})`;
    expect(recorded.length).toBe(accepted.length);
    const delivered = () => new Set(receiver.requests.filter((request) => request.path === "/terminated").map((request) => String(request.headers["webhook-id"])));
    await eventually(async () => (accepted.every((eventId) => delivered().has(eventId)) ? true : undefined), 60_000, "every accepted event delivered").catch(() => undefined);
    const missing = accepted.filter((eventId) => !delivered().has(eventId));
    const jobs = missing.length === 0 ? [] : await db.owner`
      select task_identifier, run_at, locked_at, locked_by, attempts, last_error from graphile_worker.jobs order by run_at limit 5`;
    expect(missing, `${missing.length} undelivered; jobs: ${JSON.stringify(jobs)}; hookledger said:\n${output.slice(-4000)}`).toEqual([]);

    // The service answers on new connections, and its worker delivers again.
    expect((await tenant.send({ event_id: "evt_after_termination" })).status).toBe(202);
    await eventually(async () => (delivered().has("evt_after_termination") ? true : undefined), 30_000, "the next event delivered");
    expect((await app.call("GET", "/ready", undefined)).status).toBe(200);
    expect(service.exitCode, output).toBeNull();
  }, 150_000);
});
