/**
 * `GET /health` answers while the process is alive; `GET /ready` answers 200 only when the database answers,
 * every migration this build knows is applied, and — in a process that runs one — the worker is running (a
 * worker counts as failing while the database does not answer).
 */
import { Hono } from "hono";
import * as v from "valibot";
import type { Sql } from "../db/connect.ts";
import type { HttpEnv } from "./env.ts";
import { named } from "./responses.ts";

export interface ReadinessProbe {
  sql: Sql;
  expectedSchemaVersion: number;
  /** undefined when this process runs no worker (`serve`). */
  workerRunning?: () => boolean;
}

const checkResult = v.picklist(["ok", "failing", "not_in_this_process"]);
type CheckResult = v.InferOutput<typeof checkResult>;

export const healthJson = named("Health", v.object({ status: v.literal("ok") }));
/** The answer of /ready: 200 when ready, 503 with the same shape when not. */
export const readinessJson = named(
  "Readiness",
  v.object({ status: v.picklist(["ready", "not_ready"]), checks: v.object({ database: checkResult, migrations: checkResult, worker: checkResult }) }),
);

export function healthRoutes(probe: ReadinessProbe): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  app.get("/health", (c) => c.json<v.InferOutput<typeof healthJson>>({ status: "ok" }));
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
    const reply: v.InferOutput<typeof readinessJson> = { status: ready ? "ready" : "not_ready", checks: { database, migrations, worker } };
    return c.json(reply, ready ? 200 : 503);
  });
  return app;
}
