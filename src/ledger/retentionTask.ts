/** Cron task: applies retention daily (see retention.ts). */
import type { Task } from "graphile-worker";
import type { AppContext } from "../context.ts";
import { applyRetention } from "./retention.ts";

export const APPLY_RETENTION_TASK = "apply_retention";
/** Daily at 03:30 UTC; graphile-worker runs each cron slot once across all workers. */
export const APPLY_RETENTION_CRON = `30 3 * * * ${APPLY_RETENTION_TASK}`;

export function applyRetentionTask(ctx: AppContext): Task {
  return async (_payload, helpers) => {
    const report = await helpers.withPgClient((client) => applyRetention(ctx, client));
    ctx.log.info("retention applied", { ...report, partitionCutoff: report.partitionCutoff.toISOString() });
  };
}
