/**
 * Child process the bench spawns: `bun test/bench/service.ts <role>`, configured by the environment exactly as
 * hookledger is (`loadConfig(process.env)`), against an already prepared DATABASE_URL.
 *   api | worker | api+worker  the real service, booted with startServices
 *   noop-worker                the same worker runner (same pool, localQueue, batching) with a task that does nothing:
 *                              the raw graphile-worker baseline of scenario 3
 *   bare-hono                  a Hono app with only GET /health on the same runtime: the baseline of scenario 8
 * Prints `BENCH_READY {"port":…}` when it is serving; SIGTERM stops it gracefully (so --cpu-prof gets written).
 */
import { Hono } from "hono";
import { startServices } from "../../src/boot.ts";
import { loadConfig } from "../../src/config.ts";
import { serviceUrlFor } from "../../src/db/connect.ts";
import { serve } from "../../src/http/serve/index.ts";
import { createLogger } from "../../src/log.ts";
import { startWorker } from "../../src/worker/runner.ts";

// Also named in scenarios/delivery.ts (importing this file would start a service).
const NOOP_TASK = "bench_noop";

async function start(role: string): Promise<{ port: number; stop(): Promise<void> }> {
  if (role === "bare-hono") {
    const app = new Hono();
    app.get("/health", (c) => c.json({ status: "ok" }));
    const server = await serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => app.fetch(request) });
    return { port: server.port, stop: () => server.close() };
  }
  const config = loadConfig(process.env);
  const log = createLogger(config.HOOKLEDGER_LOG_LEVEL);
  const ownerUrl = config.DATABASE_URL;
  if (!ownerUrl) throw new Error("service.ts needs DATABASE_URL");
  if (role === "noop-worker") {
    const worker = await startWorker({
      ownerUrl,
      concurrency: config.HOOKLEDGER_WORKER_CONCURRENCY,
      pollIntervalMs: config.HOOKLEDGER_WORKER_POLL_INTERVAL_MS,
      taskList: { [NOOP_TASK]: async () => undefined },
      crontab: "",
      heartbeatMs: config.HOOKLEDGER_WORKER_HEARTBEAT_MS,
      deadAfterMs: config.HOOKLEDGER_WORKER_DEAD_AFTER_MS,
      log,
    });
    return { port: 0, stop: () => worker.stop() };
  }
  if (!["api", "worker", "api+worker"].includes(role)) throw new Error(`unknown role ${role}`);
  const running = await startServices({
    config,
    log,
    database: { ownerUrl, serviceUrl: config.HOOKLEDGER_SERVICE_DATABASE_URL ?? serviceUrlFor(ownerUrl), description: "bench" },
    api: role !== "worker",
    worker: role !== "api",
  });
  return { port: running.server?.port ?? 0, stop: () => running.stop() };
}

const role = process.argv[2] ?? "api+worker";
const service = await start(role);
let stopping = false;
process.on("SIGTERM", () => {
  if (stopping) return;
  stopping = true;
  service.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`stop failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
});
process.stdout.write(`BENCH_READY ${JSON.stringify({ port: service.port, pid: process.pid })}\n`);
