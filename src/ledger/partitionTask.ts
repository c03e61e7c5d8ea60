/**
 * Cron task: keeps monthly ledger partitions created ahead of time, and records what it created.
 */
import type { Task } from "graphile-worker";
import type { AppContext } from "../context.ts";
import { SYSTEM_ORG_ID, withTenant } from "../db/tenant.ts";
import { ANY_VERSION } from "./append.ts";
import { ensureLedgerPartitions } from "./partitions.ts";

export const ENSURE_PARTITIONS_TASK = "ensure_ledger_partitions";
/** Hourly: cheap when nothing is missing, and a missed run (process down) is caught up within the hour. */
export const ENSURE_PARTITIONS_CRON = `0 * * * * ${ENSURE_PARTITIONS_TASK}`;

export function ensurePartitionsTask(ctx: AppContext): Task {
  return async (_payload, helpers) => {
    const monthsAhead = ctx.config.HOOKLEDGER_LEDGER_PARTITIONS_AHEAD;
    const created = await helpers.withPgClient((client) => ensureLedgerPartitions(client, monthsAhead, ctx.now()));
    if (created.length === 0) return;
    await withTenant(ctx.sql, SYSTEM_ORG_ID, (tx) =>
      ctx.ledger.record(tx, "ledger:partitions", ANY_VERSION, [
        { type: "ledger.partitions_created", data: { partitions: created, months_ahead: monthsAhead }, meta: { actor: { kind: "worker" } } },
      ]),
    );
    ctx.log.info("ledger partitions created", { partitions: created });
  };
}
