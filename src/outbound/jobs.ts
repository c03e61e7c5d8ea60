/**
 * Delivery jobs, added through `hookledger.enqueue_jobs` so they commit with the ledger entries that caused them.
 *
 * The job key is the delivery id: a delivery has at most one job, and asking again (retry now, recover) moves
 * the existing job's run time instead of adding a second one. graphile-worker's own retries are only a safety
 * net for crashes; the schedule users see is ours (see retryPolicy.ts).
 */
import type { Tx } from "../db/connect.ts";

export const DELIVER_TASK = "deliver";
const CRASH_RETRIES = 5;

export interface DeliveryJob {
  deliveryId: string;
  runAt?: Date;
}

export async function enqueueDeliveries(tx: Tx, orgId: string, jobs: DeliveryJob[]): Promise<void> {
  if (jobs.length === 0) return;
  const specs = jobs.map((job) => ({
    identifier: DELIVER_TASK,
    payload: { org_id: orgId, delivery_id: job.deliveryId },
    job_key: `delivery:${job.deliveryId}`,
    max_attempts: CRASH_RETRIES,
    ...(job.runAt ? { run_at: job.runAt.toISOString() } : {}),
  }));
  await tx`select hookledger.enqueue_jobs(${tx.json(specs)})`;
}
