/**
 * What a run leaves behind: a table on stdout, and in test/bench/results/ `latest.json` (everything, profiles
 * included), `latest.md` (the table README's Performance section includes, plus the machine and the profiles of
 * rows below half their baseline) and `latest.svg` (ratios as bars).
 */
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Profile } from "./stats.ts";
import { ratioChart } from "./svg.ts";
import { describeProbes, type SpeedProbe } from "./speedProbe.ts";

export interface Measure {
  name: string;
  value: number;
  unit: string;
  p50Ms?: number;
  p99Ms?: number;
}

export interface Row {
  /** "1", "2 (fan-out 10)", … */
  id: string;
  scenario: number;
  name: string;
  result: Measure;
  baseline: Measure;
  /** Performance relative to the baseline: 1 = as fast, below 1 = slower (throughput ÷ throughput, or baseline latency ÷ latency). */
  ratio: number;
  note?: string;
  profile?: Profile;
  /**
   * The report estimates the row's CPU ceiling (cpuCeilingOf): for throughput rows judged against a baseline the
   * service does not share, so the baseline would not move with it.
   */
  cpuCeiling?: true;
}

export interface Machine {
  date: string;
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  kernel: string;
  bun: string;
  postgres: string;
  graphileWorker: string;
  hono: string;
}

export async function describeMachine(postgresVersion: string): Promise<Machine> {
  const version = async (pkg: string) => {
    try {
      return ((await import(`../../node_modules/${pkg}/package.json`, { with: { type: "json" } })) as { default: { version: string } }).default.version;
    } catch {
      return "unknown";
    }
  };
  return {
    date: new Date().toISOString(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    bun: process.versions.bun ?? "not bun",
    postgres: postgresVersion,
    graphileWorker: await version("graphile-worker"),
    hono: await version("hono"),
  };
}

const fmt = (value: number | undefined, digits = 1): string => {
  if (value === undefined || !Number.isFinite(value)) return "–";
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString("en-US");
  return value.toFixed(value >= 100 ? 0 : digits);
};
const measureText = (m: Measure) => `${fmt(m.value)} ${m.unit}`;
const ms = (value: number | undefined) => (value === undefined ? "–" : `${fmt(value)} ms`);

export function markdownTable(rows: Row[]): string {
  const lines = [
    "| # | Scenario | Result | p50 | p99 | Baseline (same run) | Baseline value | Ratio |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const row of rows) {
    const ratio = Number.isFinite(row.ratio) ? row.ratio.toFixed(3) : "n/a";
    lines.push(
      `| ${row.id} | ${row.name} | ${measureText(row.result)} | ${ms(row.result.p50Ms)} | ${ms(row.result.p99Ms)} | ${row.baseline.name} | ${measureText(row.baseline)}${row.baseline.p50Ms !== undefined ? ` (p50 ${ms(row.baseline.p50Ms)})` : ""} | ${row.ratio < 0.5 ? `**${ratio}** ⚠` : ratio} |`,
    );
  }
  return lines.join("\n");
}

/**
 * One row per id from several runs of a scenario: the run whose ratio is the median (the lower middle for an even
 * count), its note saying so and listing every run's ratio, so a reader sees the spread the median hides.
 */
export function medianOfRuns(runs: Row[][]): Row[] {
  if (runs.length <= 1) return runs[0] ?? [];
  const ids = [...new Set(runs.flat().map((row) => row.id))];
  return ids.map((id) => {
    const same = runs.flatMap((run) => run.filter((row) => row.id === id));
    const byRatio = [...same].sort((a, b) => (Number.isFinite(a.ratio) ? a.ratio : -Infinity) - (Number.isFinite(b.ratio) ? b.ratio : -Infinity));
    const median = byRatio[Math.floor((byRatio.length - 1) / 2)] as Row;
    const spread = `median of ${same.length} runs by ratio (${same.map((row) => row.ratio.toFixed(3)).join(", ")}, in run order)`;
    return { ...median, note: [spread, median.note].filter(Boolean).join("; ") };
  });
}

const percent = (share: number) => `${Math.round(share * 100)}%`;

/**
 * What the row would read if its processes (the service's, and the bench's own load generator and receiver, which
 * share the cores) kept every core busy at the CPU per unit of work they used in the window: near the measured
 * ratio, the row is CPU-bound and only less work per unit raises it; far above, it waits on something else (round
 * trips, commits, a serial step) while cores sit idle. An estimate: it assumes work scales with busy cores.
 */
export function cpuCeilingOf(row: Row, cores = os.cpus().length): { busyCores: number; value: number; ratio: number } | undefined {
  const p = row.profile;
  if (!row.cpuCeiling || !p || !(p.wallSeconds > 0) || !Number.isFinite(row.ratio)) return undefined;
  const busyCores = Object.values(p.cpuSeconds).reduce((sum, seconds) => sum + seconds, 0) / p.wallSeconds;
  if (!(busyCores > 0)) return undefined;
  const scale = cores / busyCores;
  return { busyCores, value: row.result.value * scale, ratio: row.ratio * scale };
}

/** The row's note with its CPU ceiling and the machine's idle share appended: a CPU-bound row on a busy box reads lower. */
function noteOf(row: Row): string {
  const ceiling = cpuCeilingOf(row);
  const atCeiling = ceiling
    ? `CPU ceiling ratio ${ceiling.ratio.toFixed(3)} (${ceiling.value.toFixed(0)} ${row.result.unit} if the row's processes, ${ceiling.busyCores.toFixed(2)} cores busy here, kept all ${os.cpus().length} busy at the same CPU per unit)`
    : "";
  const idle = row.profile ? `machine idle ${percent(row.profile.idleShare)} during the row` : "";
  return [row.note, atCeiling, idle].filter(Boolean).join("; ");
}

function profileMarkdown(row: Row): string {
  const p = row.profile;
  if (!p) return "";
  const cpu = Object.entries(p.cpuCores).map(([k, v]) => `${k} ${v}`).join(", ");
  const rss = Object.entries(p.rssPeakMb).map(([k, v]) => `${k} ${v} MB`).join(", ");
  const waits = p.waits.slice(0, 8).map((w) => `${w.state} ${w.sessions}`).join(", ");
  const statements = p.topStatements.slice(0, 6).map((s) => `  - ${s.calls} calls, ${s.meanMs} ms mean, ${s.totalMs} ms total, ${s.blocksPerCall} buffers/call: \`${s.query.replace(/`/g, "'").slice(0, 120)}\``);
  return [
    `#### ${row.id} ${row.name}`,
    `${noteOf(row)}\n`,
    `- window ${p.wallSeconds} s; CPU cores used: ${cpu}; whole machine ${p.machineBusyCores} of ${os.cpus().length} (others' work: ${p.otherCores}; idle share ${percent(p.idleShare)})`,
    `- waiting for a CPU (run-queue threads, average): ${Object.entries(p.runQueueWait).map(([k, v]) => `${k} ${v}`).join(", ")}; some task waited for a CPU ${Math.round(p.cpuPressure * 100)}% of the time`,
    rss ? `- peak RSS: ${rss}` : "",
    `- ${p.statements} statements and ${p.commits} commits in the window (pg_stat_statements, pg_stat_database)`,
    p.wal ? `- WAL written (whole cluster, pg_stat_wal): ${(p.wal.bytes / 1048576).toFixed(1)} MB, ${p.wal.records} records, ${p.wal.fullPageImages} full-page images${p.wal.byKind?.length ? `; by kind: ${p.wal.byKind.map((k) => `${k.kind} ${(k.bytes / 1048576).toFixed(1)} MB (${k.records} records)`).join(", ")}` : ""}` : "",
    `- sequential scans: ${p.seqScans.slice(0, 5).map((t) => `${t.table} ${t.scans}× (${t.rowsPerScan} rows each)`).join(", ") || "none"}`,
    `- Postgres sessions by state (average over the window): ${waits || "none sampled"}`,
    statements.length ? `- top statements (pg_stat_statements):\n${statements.join("\n")}` : "",
  ].filter(Boolean).join("\n");
}

export function printTable(rows: Row[]): void {
  const header = ["#", "scenario", "result", "p50", "p99", "baseline", "ratio"];
  const body = rows.map((r) => [r.id, r.name, measureText(r.result), ms(r.result.p50Ms), ms(r.result.p99Ms), `${r.baseline.name}: ${measureText(r.baseline)}`, Number.isFinite(r.ratio) ? r.ratio.toFixed(3) : "n/a"]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((line) => (line[i] ?? "").length)));
  const render = (line: string[]) => line.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ");
  console.log(render(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const line of body) console.log(render(line));
}

/** `name` is "latest" for reference runs; a profiled run writes under another name, its numbers being perturbed. */
export async function writeResults(dir: string, name: string, run: { machine: Machine; options: Record<string, unknown>; rows: Row[]; extras: Record<string, unknown>; speed?: Record<string, SpeedProbe> }): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, `${name}.json`), JSON.stringify(run, null, 2) + "\n");
  const m = run.machine;
  const flagged = run.rows.filter((row) => row.ratio < 0.5);
  const md = [
    `<!-- generated by \`bun run bench\` (test/bench/run.ts); do not edit by hand -->`,
    `Measured ${m.date.slice(0, 16).replace("T", " ")} UTC on ${m.cpus} × ${m.cpuModel}, ${m.memoryGb} GB RAM, ${m.kernel}; ` +
      `Bun ${m.bun}, ${m.postgres}, graphile-worker ${m.graphileWorker}, Hono ${m.hono}. Options: \`${JSON.stringify(run.options)}\`.`,
    "",
    markdownTable(run.rows),
    "",
    "Ratio = performance relative to the baseline measured in the same run (throughput ÷ baseline throughput, or baseline",
    "latency ÷ latency): 1 means as fast as the baseline; **bold ⚠** marks rows below half their baseline.",
    "",
    ...(run.speed && Object.keys(run.speed).length > 0 ? [describeProbes(run.speed), ""] : []),
    ...run.rows.filter((r) => r.ratio >= 0.5 && noteOf(r)).map((r) => `- ${r.id}: ${noteOf(r)}`),
    flagged.length ? `\n### Profiles of rows below half their baseline (every row's profile: ${name}-profiles.md)\n` : "",
    ...flagged.map(profileMarkdown),
  ].join("\n");
  await writeFile(path.join(dir, `${name}.md`), md + "\n");
  await writeFile(path.join(dir, `${name}-profiles.md`), [`# Profiles of every row (${m.date})`, "", ...run.rows.filter((r) => r.profile).map(profileMarkdown)].join("\n\n") + "\n");
  await writeFile(path.join(dir, `${name}.svg`), ratioChart(run.rows, `hookledger bench, ${m.date.slice(0, 10)} (${m.cpus} cores)`));
}
