/**
 * `GET /health` answers while the process is alive; `GET /ready` answers 200 only when the database answers,
 * every migration this build knows is applied, and — in a process that runs one — the worker is running (a
 * worker counts as failing while the database does not answer).
 */
import { Hono } from "hono";
import type { Sql } from "../db/connect.ts";
import type { HttpEnv } from "./env.ts";

export interface ReadinessProbe {
  sql: Sql;
  expectedSchemaVersion: number;
  /** undefined when this process runs no worker (`serve`). */
  workerRunning?: () => boolean;
}

type CheckResult = "ok" | "failing" | "not_in_this_process";

export function healthRoutes(probe: ReadinessProbe): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  app.get("/health", (c) => c.json({ status: "ok" }));
  app.get("/ready", async (c) => {
    let database: CheckResult = "failing";
    let migrations: CheckResult = "failing";
    try {
      const [row] = await probe.sql<{ version: number | null }[]>`select hookledger.schema_version() as version`;
      database = "ok";
      migrations = row?.version === probe.expectedSchemaVersion ? "ok" : "failing";
    } catch {
      database = "failing";
    }
    // A worker that cannot reach the database takes no jobs, even while its runner is alive and retrying.
    const worker: CheckResult = probe.workerRunning ? (probe.workerRunning() && database === "ok" ? "ok" : "failing") : "not_in_this_process";
    const ready = database === "ok" && migrations === "ok" && worker !== "failing";
    return c.json({ status: ready ? "ready" : "not_ready", checks: { database, migrations, worker } }, ready ? 200 : 503);
  });
  return app;
}
