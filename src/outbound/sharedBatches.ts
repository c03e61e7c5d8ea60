/**
 * Concurrent `deliver` jobs of one organization share their database work: the loads of jobs that start while
 * another job's load is running are made by the next load together, and likewise their records and the jobs
 * they queue for deliveries put off (group commit, db/groupCommit.ts, one flush per organization at a time).
 *
 * Why: under steady load a job carries the few deliveries one ingest batch scheduled (about 4 with 16 producers),
 * so each delivery paid a quarter of a load transaction and of a record statement. Sharing them makes the batches
 * as large as the work waiting, whatever size the jobs have.
 *
 * Each job still gets exactly its own answers: its requests' loads, and for each of its results whether it was
 * recorded. A failure of a shared statement fails every job in it, and each is run again (attempts already
 * recorded are skipped by their attempt number).
 */
import type { AppContext } from "../context.ts";
import { GroupCommit, type ItemOutcome } from "../db/groupCommit.ts";
import { loadAttempts, type AttemptRequest, type LoadedAttempt, type Skipped, type Unopened } from "./attemptLoad.ts";
import { healthySuccess, recordAttempts, type AttemptResult } from "./attemptRecord.ts";
import { withTenant } from "../db/tenant.ts";
import { deferDeliveries, type ScheduledDelivery } from "./jobs.ts";
import { groupBy } from "../collections/groupBy.ts";

type Loaded = { ready: LoadedAttempt } | { skipped: Skipped } | { unopened: Unopened };

const deliveryIdOf = (answer: Loaded): string => ("ready" in answer ? answer.ready.deliveryId : "skipped" in answer ? answer.skipped.deliveryId : answer.unopened.deliveryId);

interface SharedBatches {
  loads: GroupCommit<AttemptRequest, Loaded>;
  records: GroupCommit<AttemptResult, boolean>;
  later: GroupCommit<ScheduledDelivery, true>;
}

const MAX_SHARED = 256;
const perContext = new WeakMap<AppContext, SharedBatches>();

/** Loads in one statement set; each request gets its own answer, in the order asked (the same delivery may be asked twice). */
async function loadTogether(ctx: AppContext, orgId: string, requests: AttemptRequest[]): Promise<ItemOutcome<Loaded>[]> {
  const { ready, skipped, unopened } = await loadAttempts(ctx, orgId, requests);
  const answers = groupBy<Loaded, string>(
    [...ready.map((loaded) => ({ ready: loaded })), ...skipped.map((skip) => ({ skipped: skip })), ...unopened.map((held) => ({ unopened: held }))],
    deliveryIdOf,
  );
  return requests.map((request) => {
    const loaded = answers.get(request.deliveryId)?.shift();
    return { ok: true, value: loaded ?? { skipped: { deliveryId: request.deliveryId, reason: "delivery is missing" } } };
  });
}

/**
 * Records in one group; each result learns whether it was recorded. Two jobs that made the same attempt of one
 * delivery (a manual retry racing the scheduled one) both sent it; only the first result is offered for recording,
 * as if the other job had lost the race to another worker.
 */
async function recordTogether(ctx: AppContext, orgId: string, results: AttemptResult[]): Promise<ItemOutcome<boolean>[]> {
  const seen = new Set<string>();
  const offered = results.filter((result) => {
    const key = `${result.loaded.deliveryId}#${result.attempt.attempt_number}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  // Healthy successes go in one statement; the rest (failures, retries, circuits) in the transaction that orders
  // their endpoints' health. Mixed, one failing delivery of one job would send every job's successes that way.
  const healthy = offered.filter(healthySuccess);
  const others = offered.filter((result) => !healthySuccess(result));
  const outcomes = (await Promise.all([recordedApart(ctx, orgId, healthy), recordedApart(ctx, orgId, others)])).flat();
  const recorded = new Set<AttemptResult>();
  const failed = new Map<AttemptResult, unknown>();
  for (const outcome of outcomes) {
    if (outcome.ok) for (const result of outcome.value) recorded.add(result);
    else for (const result of outcome.results) failed.set(result, outcome.error);
  }
  return results.map((result) => (failed.has(result) ? { ok: false, error: failed.get(result) } : { ok: true, value: recorded.has(result) }));
}

const isDataException = (error: unknown): boolean =>
  typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string" && (error as { code: string }).code.startsWith("22");

type GroupOutcome = { ok: true; value: AttemptResult[] } | { ok: false; error: unknown; results: AttemptResult[] };

/**
 * Records a group; if its write fails for a reason other than a lost race (which recordAttempts settles itself),
 * records each result alone, so only the result that cannot be written fails — and its job alone runs again —
 * instead of every job of the group sending its deliveries again.
 */
async function recordedApart(ctx: AppContext, orgId: string, results: AttemptResult[]): Promise<GroupOutcome[]> {
  if (results.length === 0) return [];
  try {
    return [{ ok: true, value: await recordAttempts(ctx, orgId, results) }];
  } catch (error) {
    if (results.length === 1) {
      const [result] = results as [AttemptResult];
      // A value Postgres refuses (SQLSTATE class 22, data exception) can only come from what the receiver answered:
      // the attempt is recorded without it rather than sent again and again and never recorded.
      if (!isDataException(error) || (result.attempt.response_excerpt === null && Object.keys(result.attempt.response_headers).length === 0)) return [{ ok: false, error, results }];
      const bare = { ...result, attempt: { ...result.attempt, response_headers: {}, response_excerpt: null } };
      const recorded = await recordedApart(ctx, orgId, [bare]);
      return recorded.map((outcome) => (outcome.ok ? { ok: true, value: outcome.value.length > 0 ? [result] : [] } : { ...outcome, results }));
    }
    const alone: GroupOutcome[] = [];
    for (const result of results) alone.push(...(await recordedApart(ctx, orgId, [result])));
    return alone;
  }
}

/** Queues the deliveries jobs put off or handed over in one transaction; a failure fails every job in it. */
async function deferTogether(ctx: AppContext, orgId: string, deliveries: ScheduledDelivery[]): Promise<ItemOutcome<true>[]> {
  await withTenant(ctx.sql, orgId, (tx) => deferDeliveries(tx, orgId, deliveries, ctx.now()));
  return deliveries.map(() => ({ ok: true, value: true }));
}

function sharedOf(ctx: AppContext): SharedBatches {
  let shared = perContext.get(ctx);
  if (!shared) {
    shared = {
      loads: new GroupCommit((orgId, requests) => loadTogether(ctx, orgId, requests), { maxBatch: MAX_SHARED, maxConcurrentFlushes: 1 }),
      records: new GroupCommit((orgId, results) => recordTogether(ctx, orgId, results), { maxBatch: MAX_SHARED, maxConcurrentFlushes: 1 }),
      later: new GroupCommit((orgId, deliveries) => deferTogether(ctx, orgId, deliveries), { maxBatch: MAX_SHARED, maxConcurrentFlushes: 1 }),
    };
    perContext.set(ctx, shared);
  }
  return shared;
}

/** A job's loads, made together with those of other jobs of the organization waiting at the same time. */
export async function loadShared(ctx: AppContext, orgId: string, requests: AttemptRequest[]): Promise<{ ready: LoadedAttempt[]; skipped: Skipped[]; unopened: Unopened[] }> {
  const { loads } = sharedOf(ctx);
  const answers = await Promise.all(requests.map((request) => loads.submit(orgId, request)));
  const ready: LoadedAttempt[] = [];
  const skipped: Skipped[] = [];
  const unopened: Unopened[] = [];
  for (const answer of answers) {
    if ("ready" in answer) ready.push(answer.ready);
    else if ("skipped" in answer) skipped.push(answer.skipped);
    else unopened.push(answer.unopened);
  }
  return { ready, skipped, unopened };
}

/** Records a group of a job's results together with other jobs' groups; answers the results that were recorded. */
export async function recordShared(ctx: AppContext, orgId: string, results: AttemptResult[]): Promise<AttemptResult[]> {
  const { records } = sharedOf(ctx);
  const recorded = await Promise.all(results.map((result) => records.submit(orgId, result)));
  return results.filter((_, i) => recorded[i]);
}

/**
 * Queues a job's put-off and handed-over deliveries together with other jobs' (one commit for all): with endpoints
 * whose circuit is open, every job puts some off, and a commit per job was a commit more per job than recording.
 */
export async function deferShared(ctx: AppContext, orgId: string, deliveries: ScheduledDelivery[]): Promise<void> {
  const { later } = sharedOf(ctx);
  await Promise.all(deliveries.map((delivery) => later.submit(orgId, delivery)));
}
