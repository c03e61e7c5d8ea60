/**
 * The embedded Postgres under a running service: the one-shot commands (admin-token, migrate, rebuild-projection,
 * seal-subscription-headers) and a second start that fails share the server and leave it running, and while the
 * database is down the API answers 503 with Retry-After, then recovers by itself when it returns. This file runs its
 * own embedded server in a temporary folder, so it can stop and start it.
 */
import { execFile, spawnSync } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, serviceUrlFor } from "../../src/db/connect.ts";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../../src/db/embedded.ts";
import { prepareDatabase } from "../../src/compose/database.ts";
import { newRouteId } from "../../src/inbound/ids.ts";
import { createLogger } from "../../src/log.ts";
import { eventually, startTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../support/app.ts";
import { freePort } from "../support/freePort.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "../outbound/setup.ts";

let root: string;
let port: number;
let server: EmbeddedDatabase;
let app: TestApp;
let appStopped = false;
let receiver: Receiver;

const dataDir = () => path.join(root, "pg");

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "hookledger-shared-pg-"));
  // Under root the server runs as "postgres" and must be able to enter the folder.
  await chmod(root, 0o755);
  port = await freePort();
  server = await startEmbeddedPostgres({ dataDir: dataDir(), port });
  await prepareDatabase({ ownerUrl: server.url, manageServicePassword: true, partitionsAhead: 2, log: createLogger("warn") });
  app = await startTestApp({ name: "shared embedded", ownerUrl: server.url, serviceUrl: serviceUrlFor(server.url) }, { worker: true });
  receiver = await startReceiver();
});

afterAll(async () => {
  if (!appStopped) await app?.stop();
  await receiver?.close();
  await server?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

/** Runs the real CLI against the same data folder, as an operator would next to `npm start`. */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; output: string }> {
  const { DATABASE_URL: _owner, HOOKLEDGER_SERVICE_DATABASE_URL: _service, ...inherited } = process.env;
  return new Promise((resolve) => {
    execFile(
      "node_modules/.bin/bun",
      ["src/main.ts", ...args],
      {
        timeout: 60_000,
        env: {
          ...inherited,
          HOOKLEDGER_DATA_DIR: root,
          HOOKLEDGER_EMBEDDED_PG_PORT: String(port),
          HOOKLEDGER_ENCRYPTION_KEYS: "env:HOOKLEDGER_TEST_KEYRING",
          HOOKLEDGER_LOG_LEVEL: "warn",
          ...env,
        },
      },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, output: `${stdout}${stderr}` }),
    );
  });
}

const organizations = async (token = TEST_ADMIN_TOKEN) => (await app.call("GET", "/v1/organizations", token)).status;

describe("commands next to a running service on the embedded Postgres", () => {
  it("admin-token creates a token the running service accepts, and leaves the database running", async () => {
    const result = await cli(["admin-token"]);
    expect(result.output).toContain("new instance admin token");
    expect(result.code).toBe(0);
    const token = /(hl_adm_\S+)/.exec(result.output)?.[1];
    expect(await organizations(token)).toBe(200);
    expect(await organizations()).toBe(200);
  });

  it("migrate applies nothing new and leaves it running", async () => {
    const migrated = await cli(["migrate"]);
    expect(migrated.output).toContain("migrations applied");
    expect(migrated.code).toBe(0);
    expect(await organizations()).toBe(200);
    expect((await app.fetch("/ready")).status).toBe(200);
  });

  it("rebuild-projection, seal-subscription-headers and a second start that fails on the busy port leave it running too", async () => {
    const rebuilt = await cli(["rebuild-projection", "api_tokens"]);
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.output).toMatch(/rebuilt api_tokens for 0 organization\(s\)/);
    expect(await organizations()).toBe(200);
    const sealed = await cli(["seal-subscription-headers"]);
    expect(sealed.code).toBe(0);
    expect(sealed.output).toMatch(/sealed the custom headers of 0 subscription\(s\)/);
    expect(await organizations()).toBe(200);

    const second = await cli([], { PORT: new URL(app.baseUrl).port, HOOKLEDGER_HOST: "127.0.0.1" });
    expect(second.code).not.toBe(0);
    expect(await organizations()).toBe(200);
    expect((await app.fetch("/ready")).status).toBe(200);
  });
});

describe("the database going away under the service", () => {
  it("answers 503 unavailable with Retry-After while it is down, and recovers by itself when it returns", async () => {
    const tenant = await outboundTenant(app);
    await tenant.subscribe({ url: receiver.url("/after-outage") });
    await server.stop();

    const v1 = await app.call("GET", "/v1/applications", tenant.token);
    expect(v1.status).toBe(503);
    expect(v1.headers.get("content-type")).toBe("application/problem+json");
    expect(v1.headers.get("retry-after")).toBe("5");
    expect(v1.body).toMatchObject({ type: "urn:hookledger:problem:unavailable", status: 503, instance: "/v1/applications" });
    const inbound = await app.fetch(`/in/${newRouteId()}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(inbound.status).toBe(503);
    expect(inbound.headers.get("retry-after")).toBe("5");
    expect((await inbound.json()).type).toBe("urn:hookledger:problem:unavailable");
    const ready = await app.fetch("/ready");
    expect(ready.status).toBe(503);
    expect((await ready.json()).checks).toMatchObject({ database: "failing", worker: "failing" });
    expect((await app.fetch("/health")).status).toBe(200);

    server = await startEmbeddedPostgres({ dataDir: dataDir(), port });
    await eventually(async () => ((await app.fetch("/ready")).status === 200 ? true : undefined), 30_000, "the service to be ready again");
    expect((await app.call("GET", "/v1/applications", tenant.token)).status).toBe(200);
    expect((await tenant.send({ event_id: "after_outage" })).status).toBe(202);
    await receiver.waitFor(1, "/after-outage", 30_000);
  });

  it("a server whose starter is gone (a killed hookledger) is adopted by the next process, which stops it", async () => {
    // The service is stopped first: this test is about the adoption (the outage test above stops the server under
    // the running service).
    await app.stop();
    appStopped = true;
    const gone = spawnSync(process.execPath, ["-e", ""]).pid;
    await writeFile(path.join(root, "postgres-owner"), `${gone}\n`);
    const adopted = await startEmbeddedPostgres({ dataDir: dataDir(), port });
    expect(adopted.sharedWith).toBeUndefined();
    await adopted.stop();
    const probe = connect(server.url, { max: 1, applicationName: "hookledger-test" });
    await expect(probe`select 1`).rejects.toMatchObject({ code: "ECONNREFUSED" });
    await probe.end();
    server = await startEmbeddedPostgres({ dataDir: dataDir(), port });
  });
});

describe("the embedded server's settings", () => {
  async function settings(): Promise<Record<string, string>> {
    const sql = connect(server.url, { max: 1, applicationName: "hookledger-test" });
    try {
      const rows = await sql<{ name: string; setting: string }[]>`
        select name, current_setting(name) as setting from pg_settings where name in ('max_wal_size', 'checkpoint_timeout')`;
      return Object.fromEntries(rows.map((row) => [row.name, row.setting]));
    } finally {
      await sql.end();
    }
  }

  async function restart(): Promise<void> {
    await server.stop();
    server = await startEmbeddedPostgres({ dataDir: dataDir(), port });
  }

  it("spaces checkpoints for a write-heavy service, included once however often it starts, and ALTER SYSTEM still wins", async () => {
    expect(await settings()).toEqual({ max_wal_size: "4GB", checkpoint_timeout: "15min" });
    const conf = await readFile(path.join(dataDir(), "postgresql.conf"), "utf8");
    expect(conf.split("\n").filter((line) => line === "include_if_exists = 'hookledger.conf'")).toHaveLength(1);

    const owner = connect(server.url, { max: 1, applicationName: "hookledger-test" });
    await owner.unsafe("alter system set max_wal_size = '2GB'");
    await owner.end();
    await restart();
    expect(await settings()).toEqual({ max_wal_size: "2GB", checkpoint_timeout: "15min" });

    const reset = connect(server.url, { max: 1, applicationName: "hookledger-test" });
    await reset.unsafe("alter system reset max_wal_size");
    await reset.end();
    await restart();
    expect(await settings()).toEqual({ max_wal_size: "4GB", checkpoint_timeout: "15min" });
  });
});
