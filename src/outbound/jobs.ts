/**
 * Delivery jobs, added through `hookledger.enqueue_jobs` so they commit with the ledger entries that caused them.
 *
 * Why batch jobs: one graphile-worker job per delivery cost a job row, a fetch and a completion per delivery, and
 * `add_jobs` notifies (a commit-time lock) per call. A `deliver` job carries up to DELIVERY_JOB_SIZE deliveries of
 * one organization, so the worker loads, sends and records them together.
 *
 * Why retries far ahead do not become jobs: graphile-worker's fetch slowed from 7 ms to 390 ms (p50, fresh
 * delivery) with 200,000 retries queued as future jobs. A retry due within PROMOTE_HORIZON_MS becomes a job at
 * once; a later one lives only on its delivery (`next_attempt_at`, status `retrying`), and one `promote_retries`
 * job per organization and time bucket turns the deliveries due in that bucket into `deliver` jobs shortly
 * before they are due. The queue then holds a few jobs per bucket, not one per retry.
 *
 * Every item names the attempt it is for: a job that runs twice (crash, a manual retry racing a scheduled one)
 * finds the delivery already past that attempt and skips it, so duplicates cost a read, never a second send; two
 * that run at the same moment in one process meet at the attempt's claim (attemptClaims.ts).
 */
import type { Tx } from "../db/connect.ts";
import { groupBy } from "../collections/groupBy.ts";

export const DELIVER_TASK = "deliver";
export const PROMOTE_RETRIES_TASK = "promote_retries";
/** Deliveries per `deliver` job: large enough to amortise the loads and the record transaction, small enough
 * that one slow endpoint in a job delays few others' records. */
export const DELIVERY_JOB_SIZE = 32;
/** Retries due sooner than this are queued as jobs straight away. */
export const PROMOTE_HORIZON_MS = 60_000;
/** How early a bucket's promotion runs before its first delivery is due. */
export const PROMOTE_LEAD_MS = 5_000;
const CRASH_RETRIES = 5;

/** One delivery in a `deliver` job. */
export interface DeliveryJobItem {
  org_id: string;
  delivery_id: string;
  /** The attempt number this job makes (the delivery's attempts so far + 1). */
  attempt: number;
  /** Asked for by a user (retry, recover): sent even while the endpoint's circuit is open, as its probe. */
  manual?: true;
}

export interface ScheduledDelivery {
  deliveryId: string;
  attempt: number;
  /** When the attempt is due; now when absent. */
  runAt?: Date | undefined;
  /** A user asked for it (DeliveryJobItem.manual). */
  manual?: boolean | undefined;
}

export interface JobSpec {
  identifier: string;
  payload: unknown;
  run_at?: string;
  max_attempts: number;
  /** graphile-worker runs lower numbers first; see widthPriority. */
  priority?: number;
  job_key?: string;
}

/** Width of a promotion bucket: coarser the farther ahead, so a 10-hour schedule needs few buckets. */
function bucketWidthMs(delayMs: number): number {
  if (delayMs <= 15 * 60_000) return 60_000;
  if (delayMs <= 3 * 3_600_000) return 5 * 60_000;
  return 15 * 60_000;
}

/**
 * The priority of the jobs of work that schedules `width` deliveries at once (a flush, a replay, a promotion):
 * 0 below 100, 1 below 1,000, 2 beyond. Wide work runs after narrow work due at the same time, so one
 * organization's burst to an application of 1,000 subscriptions does not hold every other organization's fresh
 * deliveries behind its thousands of jobs (they waited ~30 s). See sql/084.
 */
export function widthPriority(width: number): number {
  return width < 100 ? 0 : width < 1000 ? 1 : 2;
}

/**
 * The priority of an organization's new work once it has scheduled `recent` deliveries in about two seconds
 * (RecentVolume, per process): 0 below 2,000, 1 below 20,000, 2 beyond. An organization flooding the queue with
 * narrow flushes (each below widthPriority's 100) then queues behind quiet organizations' fresh deliveries instead
 * of in front of them; alone, it runs as fast as before (workers take whatever is due, lowest number first).
 */
export function volumePriority(recent: number): number {
  return recent < 2_000 ? 0 : recent < 20_000 ? 1 : 2;
}

/** The priority of jobs for `width` deliveries scheduled together by an organization whose volume sets `floor`. */
function jobPriority(width: number, floor: number): number {
  return Math.max(widthPriority(width), floor);
}

/**
 * Jobs that run the given deliveries at their due time, DELIVERY_JOB_SIZE per job: those due now at once, later ones
 * in 1-second buckets (rounded up, so none runs early). Due-now jobs carry no run_at: graphile-worker's insert
 * notification wakes a worker at once, where a run_at even a fraction of a second ahead waits for the next poll.
 * `floor` is a priority the jobs take at least (volumePriority of the work's organization).
 */
export function deliverJobSpecs(orgId: string, deliveries: ScheduledDelivery[], now: Date, floor = 0): JobSpec[] {
  const priority = jobPriority(deliveries.length, floor);
  const bySecond = groupBy(deliveries, (delivery) => {
    const due = delivery.runAt?.getTime() ?? 0;
    return due <= now.getTime() ? 0 : Math.ceil(due / 1000) * 1000;
  });
  const specs: JobSpec[] = [];
  for (const [second, group] of bySecond) {
    for (let i = 0; i < group.length; i += DELIVERY_JOB_SIZE) {
      const items: DeliveryJobItem[] = group.slice(i, i + DELIVERY_JOB_SIZE).map((d) => ({ org_id: orgId, delivery_id: d.deliveryId, attempt: d.attempt, ...(d.manual ? { manual: true as const } : {}) }));
      specs.push({
        identifier: DELIVER_TASK,
        payload: items,
        max_attempts: CRASH_RETRIES,
        ...(priority > 0 ? { priority } : {}),
        ...(second > 0 ? { run_at: new Date(second).toISOString() } : {}),
      });
    }
  }
  return specs;
}

/** The jobs of new deliveries (attempt 1, due now) that the database cuts from their ids (ingest_batch, sql/088). */
export interface NewDeliveryJobs {
  /** Deliveries per job. */
  size: number;
  priority: number;
  maxAttempts: number;
  /** How many jobs that makes. */
  count: number;
}

/** What deliverJobSpecs would give `deliveries` new deliveries due now, as the shape ingest_batch builds them in. */
export function newDeliveryJobs(deliveries: number, floor = 0): NewDeliveryJobs {
  return { size: DELIVERY_JOB_SIZE, priority: jobPriority(deliveries, floor), maxAttempts: CRASH_RETRIES, count: Math.ceil(deliveries / DELIVERY_JOB_SIZE) };
}

async function addJobs(tx: Tx, specs: JobSpec[]): Promise<void> {
  if (specs.length === 0) return;
  await tx`select hookledger.enqueue_jobs(${tx.json(specs as never)})`;
}

/**
 * Queues deliveries as `deliver` jobs at their due time, however far ahead (for deferrals such as an open
 * circuit, whose items are not on the delivery row's schedule).
 */
export async function enqueueDeliveries(tx: Tx, orgId: string, deliveries: ScheduledDelivery[], now: Date, floor = 0): Promise<void> {
  await addJobs(tx, deliverJobSpecs(orgId, deliveries, now, floor));
}

/**
 * Queues deliveries the worker puts off (endpoint busy, circuit open, rate limit, handed over), all due later.
 * Inserted without add_jobs' NOTIFY (hookledger.insert_deliver_jobs): no worker needs waking for a job due later,
 * the workers' poll finds it, and NOTIFY takes a database-wide lock held through the commit (with many jobs putting
 * deliveries off, `Lock:object` was a third of a session in the slow-endpoints bench).
 */
export async function deferDeliveries(tx: Tx, orgId: string, deliveries: ScheduledDelivery[], now: Date): Promise<void> {
  const specs = deliverJobSpecs(orgId, deliveries, now);
  if (specs.length === 0) return;
  await tx`select hookledger.insert_deliver_jobs(${tx.json(specs as never)})`;
}

/**
 * Schedules retries whose time is already on the delivery row (`next_attempt_at`): near ones become jobs, far
 * ones get their bucket's promotion job (one per bucket: the job key makes a second add a no-op update).
 */
export async function scheduleRetries(tx: Tx, orgId: string, retries: ScheduledDelivery[], now: Date): Promise<void> {
  const near: ScheduledDelivery[] = [];
  const promotions = new Map<string, JobSpec>();
  for (const retry of retries) {
    const due = retry.runAt?.getTime() ?? now.getTime();
    const delay = due - now.getTime();
    if (delay <= PROMOTE_HORIZON_MS) {
      near.push(retry);
      continue;
    }
    const width = bucketWidthMs(delay);
    const from = Math.floor(due / width) * width;
    const key = `promote:${orgId}:${from}`;
    promotions.set(key, {
      identifier: PROMOTE_RETRIES_TASK,
      payload: { org_id: orgId, from: new Date(from).toISOString(), until: new Date(from + width).toISOString() },
      run_at: new Date(from - PROMOTE_LEAD_MS).toISOString(),
      max_attempts: CRASH_RETRIES,
      job_key: key,
    });
  }
  await addJobs(tx, [...deliverJobSpecs(orgId, near, now), ...promotions.values()]);
}
