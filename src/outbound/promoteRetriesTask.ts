/**
 * The `promote_retries` task: turns the retries of one organization due in one time bucket into `deliver` jobs,
 * shortly before they are due (see jobs.ts for why far retries are not jobs until then).
 */
import type { Task } from "graphile-worker";
import * as v from "valibot";
import type { AppContext } from "../context.ts";
import { withTenant } from "../db/tenant.ts";
import { enqueueDeliveries, PROMOTE_RETRIES_TASK } from "./jobs.ts";

const payloadSchema = v.object({
  org_id: v.pipe(v.string(), v.uuid()),
  from: v.pipe(v.string(), v.isoTimestamp()),
  until: v.pipe(v.string(), v.isoTimestamp()),
});

/** Deliveries promoted per transaction; a fuller bucket continues in a follow-up job. */
const PAGE = 2000;

export function promoteRetriesTask(ctx: AppContext): Task {
  return async (payload, helpers) => {
    const job = v.parse(payloadSchema, payload);
    const rest = await withTenant(ctx.sql, job.org_id, async (tx) => {
      const due = await tx<{ delivery_id: string; attempts: number; next_attempt_at: Date }[]>`
        select delivery_id, attempts, next_attempt_at from hookledger.deliveries
        where org_id = hookledger.current_org_id() and status = 'retrying'
          and next_attempt_at >= ${job.from}::timestamptz and next_attempt_at < ${job.until}::timestamptz
        order by next_attempt_at limit ${PAGE}`;
      await enqueueDeliveries(tx, job.org_id, due.map((row) => ({ deliveryId: row.delivery_id, attempt: row.attempts + 1, runAt: row.next_attempt_at })), ctx.now());
      // Rows at the page's last instant may continue past it: the next page starts there (a repeat is skipped
      // by its attempt number when it runs).
      return due.length === PAGE ? due.at(-1)?.next_attempt_at : undefined;
    });
    if (rest) await helpers.addJob(PROMOTE_RETRIES_TASK, { ...job, from: rest.toISOString() }, { maxAttempts: 5 });
  };
}
