/**
 * Numbers and evidence: percentiles, and a profiler that runs beside a scenario and records what the machine and
 * Postgres were doing — CPU per process group (and how much the machine spent on other people's work), peak RSS
 * of the service processes, Postgres wait events sampled from pg_stat_activity (as average active sessions),
 * and the top statements from pg_stat_statements.
 */
import { readdir, readFile } from "node:fs/promises";
import type { Sql } from "../../src/db/connect.ts";

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export function summarize(values: number[]): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  return { count: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.length ? (sorted[sorted.length - 1] as number) : Number.NaN };
}

export const median = (values: number[]): number => percentile(Float64Array.from(values).sort(), 50);
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const TICKS_PER_SECOND = 100;

/** utime + stime in seconds, or undefined when the process is gone. */
export async function cpuSeconds(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Nanoseconds all threads of a process spent waiting on a run queue (ready to run, no CPU free). */
async function runQueueWaitSeconds(pid: number): Promise<number> {
  let total = 0;
  try {
    for (const task of await readdir(`/proc/${pid}/task`)) {
      const fields = (await readFile(`/proc/${pid}/task/${task}/schedstat`, "utf8").catch(() => "0 0")).split(" ");
      total += Number(fields[1] ?? 0) / 1e9;
    }
  } catch {
    // gone
  }
  return total;
}

/** Microseconds during which at least one task on the machine waited for a CPU (Linux PSI). */
async function cpuPressureSeconds(): Promise<number> {
  const text = await readFile("/proc/pressure/cpu", "utf8").catch(() => "");
  return Number(/some .*total=(\d+)/.exec(text)?.[1] ?? 0) / 1e6;
}

export async function rssMb(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function machineTicks(): Promise<{ busy: number; total: number }> {
  const line = (await readFile("/proc/stat", "utf8")).split("\n")[0] ?? "";
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  const total = values.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** The postmaster and its children (backends, WAL writer, checkpointer…): Postgres's CPU, nobody else's. */
async function postgresPids(postmaster: number): Promise<number[]> {
  const pids = [postmaster];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === postmaster) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

export interface Profile {
  wallSeconds: number;
  /** CPU cores used on average by each group over the window (1.0 = one core busy the whole time). */
  cpuCores: Record<string, number>;
  /** CPU seconds each group used in the window (cpuCores × wallSeconds, unrounded): for core-ms per unit of work. */
  cpuSeconds: Record<string, number>;
  machineBusyCores: number;
  /** 1 − whole machine busy ÷ cores: the share of the box nobody used. Near 0 means the row was CPU-bound. */
  idleShare: number;
  /** Busy cores not accounted for by our groups: other engineers' work on this shared box. */
  otherCores: number;
  /** Average number of each group's threads that were ready to run but waiting for a CPU (schedstat). */
  runQueueWait: Record<string, number>;
  /** Share of the window during which some task on the machine waited for a CPU (PSI "some"). */
  cpuPressure: number;
  rssPeakMb: Record<string, number>;
  /** Average number of client backends in each state (wait event, "CPU", or idle in transaction). */
  waits: { state: string; sessions: number }[];
  topStatements: { calls: number; totalMs: number; meanMs: number; blocksPerCall: number; query: string }[];
  /** Statements executed (pg_stat_statements) and transactions committed (pg_stat_database) in the window, the profiler's own excluded. */
  statements: number;
  commits: number;
  /** WAL written by the whole cluster in the window (pg_stat_wal): records, full-page images and bytes. */
  wal: { records: number; fullPageImages: number; bytes: number; byKind: { kind: string; records: number; bytes: number }[] };
  /** Tables read by sequential scan in the window (pg_stat_user_tables): a hot path should have none. */
  seqScans: { table: string; scans: number; rowsPerScan: number }[];
}

type TableScans = Map<string, { scans: number; rows: number }>;

export interface ProcessRef {
  label: string;
  pid: number;
}

/**
 * Call `start()` just before the measured window and `stop()` right after. pg_stat_statements is reset at start,
 * so its numbers cover the window only (other databases of the cluster are idle during a scenario).
 */
export function startProfiler(options: { owner: Sql; postmasterPid: number; processes: ProcessRef[]; database: string }) {
  const { owner, processes } = options;
  const waitCounts = new Map<string, number>();
  const rssPeak: Record<string, number> = {};
  let samples = 0;
  let running = true;
  let beforeCpu = new Map<string, number>();
  let beforeWait = new Map<string, number>();
  let beforePressure = 0;
  let beforeCommits = 0;
  let beforeScans: TableScans = new Map();
  const tableScans = async (): Promise<TableScans> => {
    const rows = await owner<{ t: string; scans: string; rows: string }[]>`
      select schemaname || '.' || relname as t, seq_scan as scans, seq_tup_read as rows from pg_stat_user_tables
      where schemaname in ('hookledger', 'graphile_worker')`.catch(() => []);
    return new Map(rows.map((r) => [r.t, { scans: Number(r.scans), rows: Number(r.rows) }]));
  };
  const walCounters = async () => {
    const [row] = await owner<{ records: string; fpi: string; bytes: string }[]>`select wal_records as records, wal_fpi as fpi, wal_bytes as bytes from pg_stat_wal`.catch(() => []);
    return { records: Number(row?.records ?? 0), fullPageImages: Number(row?.fpi ?? 0), bytes: Number(row?.bytes ?? 0) };
  };
  let beforeWal = { records: 0, fullPageImages: 0, bytes: 0 };
  const walLsn = async () => (await owner<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`)[0]?.lsn ?? "0/0";
  let beforeLsn = "0/0";
  /** WAL of the window by resource manager (heap, btree, transaction…), from pg_walinspect. */
  const walByKind = async (from: string, to: string) =>
    (await owner<{ kind: string; records: string; bytes: string }[]>`
      select "resource_manager/record_type" as kind, count as records, combined_size as bytes
      from pg_get_wal_stats(${from}::pg_lsn, ${to}::pg_lsn, ${process.env.BENCH_WAL_RECORDS === "1"}) where count > 0 order by combined_size desc limit 8`.catch(() => []))
      .map((row) => ({ kind: row.kind, records: Number(row.records), bytes: Number(row.bytes) }));
  const commits = async () =>
    Number((await owner<{ n: string }[]>`select xact_commit as n from pg_stat_database where datname = ${options.database}`)[0]?.n ?? 0);
  let beforeMachine = { busy: 0, total: 0 };
  let startedAt = 0;

  /**
   * Per-process counters keyed "label/pid", so a process that exits inside the window (a Postgres backend, a
   * stopped worker) drops out of both ends instead of making the group's delta negative.
   */
  const readGroups = async (read: (pid: number) => Promise<number | undefined>): Promise<Map<string, number>> => {
    const result = new Map<string, number>();
    for (const { label, pid } of processes) result.set(`${label}/${pid}`, (await read(pid)) ?? 0);
    result.set(`self (load+receiver)/${process.pid}`, (await read(process.pid)) ?? 0);
    for (const pid of await postgresPids(options.postmasterPid)) result.set(`postgres/${pid}`, (await read(pid)) ?? 0);
    return result;
  };
  const groupCpu = () => readGroups(cpuSeconds);
  const groupWait = () => readGroups(runQueueWaitSeconds);
  /** Sums after − before per group label, over processes alive at the end. */
  const perGroup = (before: Map<string, number>, after: Map<string, number>): Map<string, number> => {
    const sums = new Map<string, number>();
    for (const [key, value] of after) {
      const label = key.slice(0, key.lastIndexOf("/"));
      sums.set(label, (sums.get(label) ?? 0) + Math.max(0, value - (before.get(key) ?? 0)));
    }
    return sums;
  };

  const sampleWaits = async () => {
    while (running) {
      try {
        const rows = await owner<{ state: string; wait: string | null }[]>`
          select state, wait_event_type || ':' || wait_event as wait from pg_stat_activity
          where backend_type = 'client backend' and pid <> pg_backend_pid() and datname = ${options.database}
            and state <> 'idle'`;
        samples += 1;
        for (const row of rows) {
          const key = row.state === "active" ? (row.wait ?? "CPU (running)") : `${row.state} (${row.wait ?? "-"})`;
          waitCounts.set(key, (waitCounts.get(key) ?? 0) + 1);
        }
        for (const { label, pid } of processes) {
          const mb = await rssMb(pid);
          if (mb !== undefined) rssPeak[label] = Math.max(rssPeak[label] ?? 0, mb);
        }
      } catch {
        // a failed sample is just a missing sample
      }
      await sleep(50);
    }
  };

  let loop: Promise<void> | undefined;
  return {
    async start() {
      await owner`select pg_stat_statements_reset()`.catch(() => undefined);
      beforeCpu = await groupCpu();
      beforeWait = await groupWait();
      beforePressure = await cpuPressureSeconds();
      beforeCommits = await commits();
      beforeWal = await walCounters();
      beforeLsn = await walLsn();
      beforeScans = await tableScans();
      beforeMachine = await machineTicks();
      startedAt = performance.now();
      loop = sampleWaits();
    },
    async stop(): Promise<Profile> {
      running = false;
      await loop;
      const wallSeconds = (performance.now() - startedAt) / 1000;
      const afterCpu = await groupCpu();
      const afterWait = await groupWait();
      const pressure = (await cpuPressureSeconds()) - beforePressure;
      const runQueueWait: Record<string, number> = {};
      for (const [label, seconds] of perGroup(beforeWait, afterWait)) runQueueWait[label] = round(seconds / wallSeconds);
      const afterMachine = await machineTicks();
      const cpuCores: Record<string, number> = {};
      const cpuSeconds: Record<string, number> = {};
      let ours = 0;
      for (const [label, seconds] of perGroup(beforeCpu, afterCpu)) {
        const used = seconds / wallSeconds;
        cpuCores[label] = round(used);
        cpuSeconds[label] = round(seconds, 3);
        ours += used;
      }
      const cores = (afterMachine.total - beforeMachine.total) / TICKS_PER_SECOND / wallSeconds;
      const machineBusyCores = ((afterMachine.busy - beforeMachine.busy) / Math.max(1, afterMachine.total - beforeMachine.total)) * cores;
      const committed = (await commits()) - beforeCommits - samples - 1;
      const afterWal = await walCounters();
      const wal = {
        records: afterWal.records - beforeWal.records,
        fullPageImages: afterWal.fullPageImages - beforeWal.fullPageImages,
        bytes: afterWal.bytes - beforeWal.bytes,
        byKind: await walByKind(beforeLsn, await walLsn()),
      };
      await sleep(600); // table statistics reach shared memory up to ~1 s after a transaction ends
      const seqScans = [...(await tableScans())].flatMap(([table, after]) => {
        const before = beforeScans.get(table) ?? { scans: 0, rows: 0 };
        const scans = after.scans - before.scans;
        return scans > 0 ? [{ table, scans, rowsPerScan: Math.round((after.rows - before.rows) / scans) }] : [];
      }).sort((a, b) => b.scans * b.rowsPerScan - a.scans * a.rowsPerScan);
      const [total] = await owner<{ n: string }[]>`
        select coalesce(sum(calls), 0) as n from pg_stat_statements s join pg_database d on d.oid = s.dbid
        where d.datname = ${options.database} and query not like '%pg_stat_activity%'`.catch(() => [{ n: "0" }]);
      const statements = await owner<{ calls: string; total: number; mean: number; blocks: number; query: string }[]>`
        select calls, total_exec_time as total, mean_exec_time as mean,
          (shared_blks_hit + shared_blks_read)::float8 / greatest(calls, 1) as blocks, query from pg_stat_statements s
        join pg_database d on d.oid = s.dbid where d.datname = ${options.database} and query not like '%pg_get_wal_stats%'
        order by total_exec_time desc limit 10`.catch(() => []);
      return {
        wallSeconds: round(wallSeconds),
        cpuCores,
        cpuSeconds,
        machineBusyCores: round(machineBusyCores),
        idleShare: round(Math.max(0, 1 - machineBusyCores / Math.max(1, cores))),
        otherCores: round(Math.max(0, machineBusyCores - ours)),
        runQueueWait,
        cpuPressure: round(pressure / wallSeconds),
        rssPeakMb: Object.fromEntries(Object.entries(rssPeak).map(([k, v]) => [k, Math.round(v)])),
        waits: [...waitCounts].map(([state, count]) => ({ state, sessions: round(count / Math.max(1, samples)) })).sort((a, b) => b.sessions - a.sessions),
        statements: Number(total?.n ?? 0),
        commits: Math.max(0, committed),
        wal,
        seqScans,
        topStatements: statements.map((s) => ({
          calls: Number(s.calls),
          totalMs: Math.round(s.total),
          meanMs: round(s.mean),
          blocksPerCall: round(s.blocks, 1),
          query: s.query.replace(/\s+/g, " ").slice(0, 160),
        })),
      };
    },
  };
}

/**
 * Milliseconds of CPU the system under test spent per unit of work in a profiled window: every group except the
 * bench process itself (load generator and receiver), i.e. API, worker(s) and Postgres. `excludeSeconds` takes
 * out work that is not the measured one (a worker's start-up).
 */
export function coreMsPer(profile: Profile, units: number, excludeSeconds = 0): number {
  const seconds = Object.entries(profile.cpuSeconds).filter(([label]) => !label.startsWith("self")).reduce((sum, [, s]) => sum + s, 0);
  return units > 0 ? (Math.max(0, seconds - excludeSeconds) * 1000) / units : Number.NaN;
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
