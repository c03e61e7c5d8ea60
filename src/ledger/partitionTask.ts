/**
 * Cron task: keeps monthly ledger partitions created ahead of time, and records what it created.
 */
import type { Task } from "graphile-worker";
import type { AppContext } from "../context.ts";
import { SYSTEM_ORG_ID, withTenant } from "../db/tenant.ts";
import { ANY_VERSION } from "./append.ts";

export const ENSURE_PARTITIONS_TASK = "ensure_ledger_partitions";
/** Hourly: cheap when nothing is missing, and a missed run (process down) is caught up within the hour. */
export const ENSURE_PARTITIONS_CRON = `0 * * * * ${ENSURE_PARTITIONS_TASK}`;

export function ensurePartitionsTask(ctx: AppContext): Task {
  return async (_payload, helpers) => {
    const monthsAhead = ctx.config.HOOKLEDGER_LEDGER_PARTITIONS_AHEAD;
    const from = ctx.now().toISOString().slice(0, 10);
    const created = await helpers.withPgClient(async (client) => {
      const result = await client.query<{ name: string }>(
        "select hookledger_private.ensure_ledger_partitions($1::int, $2::date) as name",
        [monthsAhead, from],
      );
      return result.rows.map((row) => row.name);
    });
    if (created.length === 0) return;
    await withTenant(ctx.sql, SYSTEM_ORG_ID, (tx) =>
      ctx.ledger.record(tx, "ledger:partitions", ANY_VERSION, [
        { type: "ledger.partitions_created", data: { partitions: created, months_ahead: monthsAhead }, meta: { actor: { kind: "worker" } } },
      ]),
    );
    ctx.log.info("ledger partitions created", { partitions: created });
  };
}
