/**
 * The bench's world: one embedded Postgres in a temp folder, a migrated template database that every scenario
 * clones (so no scenario sees another's rows or queue), and hookledger itself in child processes.
 *
 * Why child processes rather than startServices in this process: the load generator and the receiver would
 * otherwise share the service's event loop (a 2-core box has one JS thread per process), and the RSS we report
 * would include them. service.ts still boots the real thing with `startServices`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmod, cp, mkdir, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { connect, serviceUrlFor, withDatabase, type Sql } from "../../src/db/connect.ts";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../../src/db/embedded.ts";
import { prepareDatabase } from "../../src/compose/database.ts";
import { generateKeyringSpec } from "../../src/crypto/keyring.ts";
import { createLogger } from "../../src/log.ts";
import { freePort } from "../support/freePort.ts";
export { freePort };

const TEMPLATE = "hlbench_template";
export const BENCH_ADMIN_TOKEN = "hl_adm_bench_instance_admin_token_0123456789abcdef";
const HERE = path.dirname(new URL(import.meta.url).pathname);
const REPO = path.resolve(HERE, "../..");

/**
 * Copies src/, sql/ and test/bench/ as they are now into the run's temp folder; children run from the copy.
 * Why: the work tree is shared with engineers editing it, and a child spawned ten minutes into the run would
 * otherwise load code that expects migrations the template database never got (seen: a new column mid-run).
 */
async function snapshotSources(root: string): Promise<string> {
  const snapshot = path.join(root, "snapshot");
  await mkdir(path.join(snapshot, "test"), { recursive: true });
  await cp(path.join(REPO, "src"), path.join(snapshot, "src"), { recursive: true });
  await cp(path.join(REPO, "sql"), path.join(snapshot, "sql"), { recursive: true });
  await cp(HERE, path.join(snapshot, "test", "bench"), { recursive: true, filter: (source) => !source.includes(`${path.sep}results`) });
  await cp(path.join(REPO, "package.json"), path.join(snapshot, "package.json"));
  await symlink(path.join(REPO, "node_modules"), path.join(snapshot, "node_modules"));
  return snapshot;
}


export interface BenchDatabase {
  name: string;
  ownerUrl: string;
  serviceUrl: string;
  /** Owner (superuser) pool: data generation, EXPLAIN, the samplers. */
  owner: Sql;
}

export interface Cluster {
  url: string;
  dataDir: string;
  postmasterPid(): Promise<number>;
  database(name: string): Promise<BenchDatabase>;
  /**
   * Drops every database made by `database` so far, after a scenario's run: left in place, a finished scenario's
   * tables (a million history rows, 200,000 retries) are vacuumed by autovacuum while later rows are measured (the
   * steady state's window wrote 71–81 MB of such WAL in two full runs).
   */
  dropDatabases(): Promise<void>;
  /** Every child's env shares one keyring, so a worker can decrypt what the API encrypted. */
  serviceEnv: Record<string, string>;
  /** The copy of the sources the children run (see snapshotSources). */
  snapshot: string;
  stop(): Promise<void>;
}

/**
 * Starts Postgres with pg_stat_statements loaded (for profiles) and more connections than the default 100
 * (scenario 7 runs 4 workers × ~30 connections). Durability settings are left at their defaults.
 */
export async function startCluster(log: (line: string) => void): Promise<Cluster> {
  const root = await mkdtemp(path.join(tmpdir(), "hookledger-bench-"));
  // mkdtemp makes the folder 0700; under root the server runs as "postgres" and must be able to enter it.
  await chmod(root, 0o755);
  const snapshot = await snapshotSources(root);
  const dataDir = path.join(root, "pg");
  const port = await freePort();
  let embedded: EmbeddedDatabase = await startEmbeddedPostgres({ dataDir, port });
  // A set-up step that fails (a malformed BENCH_PG_SET, a migration) must not leave this server running in the temp
  // folder, nor the folder: nothing else would remove them.
  try {
    const admin = connect(embedded.url, { max: 1, applicationName: "hlbench-setup" });
    const alterSystem = (name: string, value: string) => admin.unsafe(`alter system set ${name} = '${value}'`);
    await admin.unsafe(`alter system set shared_preload_libraries = 'pg_stat_statements'`);
    await alterSystem("max_connections", "300");
    await alterSystem("track_io_timing", "on");
    // BENCH_NESTED_STATEMENTS=1: profiles list the statements inside SQL functions too (ingest_batch's parts).
    if (process.env.BENCH_NESTED_STATEMENTS === "1") await alterSystem("pg_stat_statements.track", "all");
    // BENCH_AUTO_EXPLAIN=<ms>: plans (with buffers) of statements slower than that, nested ones included, are
    // written to <cluster>/pg/log/ (how a slow statement's plan under real load is read; perturbs the run).
    const autoExplainMs = Number(process.env.BENCH_AUTO_EXPLAIN ?? "");
    if (Number.isFinite(autoExplainMs) && autoExplainMs > 0) {
      await admin.unsafe(`alter system set shared_preload_libraries = 'pg_stat_statements', 'auto_explain'`);
      for (const [name, value] of [
        ["auto_explain.log_min_duration", `${autoExplainMs}ms`],
        ["auto_explain.log_analyze", "on"],
        ["auto_explain.log_buffers", "on"],
        ["auto_explain.log_nested_statements", "on"],
        ["auto_explain.sample_rate", "0.2"],
        ["logging_collector", "on"],
        ["log_directory", "log"],
      ] as const) {
        await alterSystem(name, value);
      }
    }
    // BENCH_PG_SET=name=value[,name=value…]: server settings for an experiment (they apply to the baselines too).
    for (const pair of (process.env.BENCH_PG_SET ?? "").split(",").filter(Boolean)) {
      const at = pair.indexOf("=");
      if (at <= 0) throw new Error(`BENCH_PG_SET: "${pair}" is not name=value`);
      await alterSystem(pair.slice(0, at), pair.slice(at + 1));
    }
    await admin.end();
    await embedded.stop();
    embedded = await startEmbeddedPostgres({ dataDir, port });
    log(`postgres: ${dataDir} on 127.0.0.1:${embedded.port}`);

    const setup = connect(embedded.url, { max: 1, applicationName: "hlbench-setup" });
    await setup.unsafe(`create database ${TEMPLATE}`);
    await setup.end();
    const templateUrl = withDatabase(embedded.url, TEMPLATE);
    const template = connect(templateUrl, { max: 1, applicationName: "hlbench-setup" });
    await template.unsafe("create extension if not exists pg_stat_statements");
    await template.unsafe("create extension if not exists pg_walinspect"); // the profiles' WAL by kind of record
    await template.end();
    await prepareDatabase({
      ownerUrl: templateUrl,
      manageServicePassword: true,
      partitionsAhead: 3,
      log: createLogger("warn"),
      migrationsDir: path.join(snapshot, "sql"),
    });
  } catch (error) {
    await embedded.stop().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
    throw error;
  }

  const open: Sql[] = [];
  const made = new Set<string>();
  const url = embedded.url;
  return {
    url,
    dataDir,
    async postmasterPid() {
      return Number((await readFile(path.join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0]);
    },
    async database(name) {
      const admin = connect(url, { max: 1, applicationName: "hlbench-setup" });
      try {
        await admin.unsafe(`drop database if exists ${name} with (force)`);
        await admin.unsafe(`create database ${name} template ${TEMPLATE}`);
        made.add(name);
      } finally {
        await admin.end();
      }
      const ownerUrl = withDatabase(url, name);
      const owner = connect(ownerUrl, { max: 4, applicationName: "hlbench-owner" });
      open.push(owner);
      return { name, ownerUrl, serviceUrl: serviceUrlFor(ownerUrl), owner };
    },
    snapshot,
    serviceEnv: {
      HOOKLEDGER_BENCH_ADMIN_TOKEN: BENCH_ADMIN_TOKEN,
      HOOKLEDGER_BENCH_KEYRING: generateKeyringSpec(),
    },
    async dropDatabases() {
      for (const sql of open.splice(0)) await sql.end({ timeout: 5 }).catch(() => undefined);
      const admin = connect(url, { max: 1, applicationName: "hlbench-setup" });
      try {
        for (const name of made) await admin.unsafe(`drop database if exists ${name} with (force)`);
        made.clear();
      } finally {
        await admin.end();
      }
    },
    async stop() {
      for (const sql of open) await sql.end({ timeout: 5 }).catch(() => undefined);
      await embedded.stop();
      if (Number(process.env.BENCH_AUTO_EXPLAIN ?? "") > 0) {
        const kept = path.join(import.meta.dirname, "results", "profiles", "auto-explain");
        await mkdir(kept, { recursive: true });
        await cp(path.join(dataDir, "log"), kept, { recursive: true }).catch(() => undefined);
      }
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Settings every bench service runs with. Everything not listed is hookledger's default. */
export function benchServiceEnv(cluster: Cluster, db: BenchDatabase, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...cluster.serviceEnv,
    DATABASE_URL: db.ownerUrl,
    PORT: "0",
    HOOKLEDGER_HOST: "127.0.0.1",
    HOOKLEDGER_LOG_LEVEL: "warn",
    HOOKLEDGER_ADMIN_TOKEN: "env:HOOKLEDGER_BENCH_ADMIN_TOKEN",
    HOOKLEDGER_ENCRYPTION_KEYS: "env:HOOKLEDGER_BENCH_KEYRING",
    // The receiver listens on loopback over plain HTTP; production defaults refuse both.
    HOOKLEDGER_EGRESS_ALLOW_LOOPBACK: "true",
    HOOKLEDGER_EGRESS_HTTPS_ONLY: "false",
    // We measure the service, not the rate limiter: one token and one IP send everything.
    HOOKLEDGER_RATE_LIMIT_TOKEN_RPS: "1000000",
    HOOKLEDGER_RATE_LIMIT_TOKEN_BURST: "1000000",
    HOOKLEDGER_RATE_LIMIT_IP_RPS: "1000000",
    HOOKLEDGER_RATE_LIMIT_IP_BURST: "1000000",
    // As `npm start` runs the service (package.json): Bun's allocator keeps the memory it frees for reuse. A value
    // in the bench's own environment wins, for comparing.
    MIMALLOC_PURGE_DELAY: process.env.MIMALLOC_PURGE_DELAY ?? "-1",
    ...extra,
  };
}

export type ServiceRole = "api" | "worker" | "api+worker" | "noop-worker" | "bare-hono";

export interface ServiceProcess {
  role: ServiceRole;
  pid: number;
  port: number;
  baseUrl: string;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  /** Bun's --cpu-prof-md into this folder (written when the child exits). */
  profileDir?: string;
  profileName?: string;
}

const children = new Set<ChildProcess>();

/** Last resort at exit (a failed scenario, Ctrl-C): kill the children this run spawned and did not stop. */
export function killLeftoverChildren(): void {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  children.clear();
}

/** Spawns `bun test/bench/service.ts <role>` and waits for its ready line. */
export async function spawnService(cluster: Cluster, role: ServiceRole, env: Record<string, string>, options: SpawnOptions = {}): Promise<ServiceProcess> {
  const args: string[] = [];
  if (options.profileDir) args.push("--cpu-prof-md", `--cpu-prof-dir=${options.profileDir}`, `--cpu-prof-name=${options.profileName ?? role}.md`);
  args.push(path.join(cluster.snapshot, "test", "bench", "service.ts"), role);
  const child: ChildProcess = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  child.on("exit", () => children.delete(child));
  child.stderr?.on("data", (chunk: Buffer) => process.stderr.write(`[${role}] ${chunk.toString()}`));
  const ready = await new Promise<{ port: number }>((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error(`${role} did not start within 60 s`)), 60_000);
    child.on("exit", (code) => reject(new Error(`${role} exited with ${code} before it was ready`)));
    child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const match = /BENCH_READY (\{.*\})/.exec(buffered);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(JSON.parse(match[1]) as { port: number });
      }
      if (buffered.length > 100_000) buffered = buffered.slice(-1000);
    });
  });
  const exited = new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.on("exit", () => resolve())));
  return {
    role,
    pid: child.pid ?? 0,
    port: ready.port,
    baseUrl: `http://127.0.0.1:${ready.port}`,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 20_000));
      if ((await Promise.race([exited, timeout])) === "timeout") {
        child.kill("SIGKILL");
        await exited;
      }
    },
  };
}
