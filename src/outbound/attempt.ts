/**
 * Delivery attempts, in batches, in three steps so that no transaction or pooled connection is held during an
 * HTTP call:
 *   1. load every delivery of the batch with what it needs (one short transaction, see attemptLoad.ts, shared
 *      with other jobs of the organization loading at the same time, see sharedBatches.ts);
 *   2. sign and send them concurrently through the egress client (no database), at most a few at a time per
 *      endpoint (endpointSlots.ts); one that gets no slot in time goes back to the queue, unattempted;
 *   3. record the outcomes together (attemptRecord.ts), in groups as they finish, so that a slow endpoint in the
 *      batch does not hold back the records of fast ones for longer than RECORD_WINDOW_MS.
 */
import { randomUUID } from "node:crypto";
import type { AppContext } from "../context.ts";
import { withTenant } from "../db/tenant.ts";
import type { AttemptRequest, LoadedAttempt, Unopened } from "./attemptLoad.ts";
import type { AttemptData, AttemptResult } from "./attemptRecord.ts";
import { buildDeliveryRequest } from "./deliveryRequest.ts";
import type { EndpointSlots } from "./endpointSlots.ts";
import { reserveSlots } from "./endpointPacing.ts";
import { receiverControl } from "./receiverControl.ts";
import { HandOverClock } from "./handOverClock.ts";
import { nextAttemptAt, type RetryPolicy } from "./retryPolicy.ts";
import { scrubResponse } from "./responseScrubbing.ts";
import type { SubscriptionRow } from "./subscriptionStore.ts";
import { attemptClaimsOf } from "./attemptClaims.ts";
import { deferShared, loadShared, recordShared } from "./sharedBatches.ts";
import type { ScheduledDelivery } from "./jobs.ts";
import { groupBy } from "../collections/groupBy.ts";

/** Longest a finished attempt waits for others of its batch before its outcome is recorded. */
const RECORD_WINDOW_MS = 100;
/** How long a delivery waits for a free slot of its endpoint before it goes back to the queue. */
const SLOT_WAIT_MS = 250;
/** When a delivery that found its endpoint busy is tried again (at the soonest). */
const BUSY_REQUEUE_MS = 1000;
/**
 * An endpoint none of whose slots came back for this long is stalled (it hangs until its timeout): a delivery to
 * it does not wait for a slot, and goes back to the queue for as long as the slots have been out, up to the
 * endpoint's timeout. Without this, in bench scenario 4 (2 of 20 endpoints hanging for 5 s), each delivery to a
 * hanging endpoint was loaded and put off every 1.25 s until its circuit opened, holding its job 250 ms each time.
 */
const STALLED_MS = 1000;

/** When a delivery that found no slot is tried again: a second from now, or later for a stalled endpoint. */
function busyRequeueMs(stalledMs: number, timeoutMs: number): number {
  return stalledMs < STALLED_MS ? BUSY_REQUEUE_MS : Math.max(BUSY_REQUEUE_MS, Math.min(stalledMs, timeoutMs));
}
/** When a delivery held back by another process's circuit probe is tried again. */
const PROBE_REQUEUE_MS = 2000;

export type AttemptOutcome =
  | { kind: "skipped"; reason: string }
  | { kind: "deferred"; reason: string }
  | { kind: "attempted"; attempt: AttemptData & { attempted_at: Date } };

export interface AttemptOptions {
  /** False for the subscription test ping: record the outcome, schedule no further try. */
  retry: boolean;
  /** The worker's per-endpoint slots; without them (the test ping) nothing is limited. */
  slots?: EndpointSlots | undefined;
  /** When to stop waiting and hand sends still out over to queued jobs (the worker; see attemptDeliveries). */
  handOver?: { capMs: number; stragglerMs: number } | undefined;
}

function retryPolicyFor(ctx: AppContext, subscription: SubscriptionRow): RetryPolicy {
  return {
    scheduleSeconds: subscription.retry_schedule ?? ctx.config.HOOKLEDGER_RETRY_SCHEDULE,
    maxAttempts: subscription.max_attempts,
    jitterPercent: ctx.config.HOOKLEDGER_RETRY_JITTER_PERCENT,
    retryAfterMaxSeconds: ctx.config.HOOKLEDGER_RETRY_AFTER_MAX_SECONDS,
    minDelayMs: ctx.config.HOOKLEDGER_MIN_RETRY_DELAY_MS,
  };
}

/** Step 2 for one delivery: sign, send, and turn the response into the attempt to record. */
function send(ctx: AppContext, orgId: string, loaded: LoadedAttempt, retry: boolean): Promise<AttemptResult> {
  return ctx.tracing.enabled ? sendTraced(ctx, orgId, loaded, retry) : sendOnce(ctx, orgId, loaded, retry, undefined);
}

/** A span per attempt, in the event's trace (its traceparent was stored at ingestion), ended with its outcome. */
async function sendTraced(ctx: AppContext, orgId: string, loaded: LoadedAttempt, retry: boolean): Promise<AttemptResult> {
  const span = ctx.tracing.startAttempt({
    parent: loaded.traceparent,
    subscriptionId: loaded.subscription.subscription_id,
    deliveryId: loaded.deliveryId,
    eventId: loaded.event.event_id,
    eventType: loaded.event.event_type,
    attemptNumber: loaded.attemptNumber,
  });
  let result: AttemptResult;
  try {
    result = await sendOnce(ctx, orgId, loaded, retry, loaded.subscription.send_traceparent ? span.traceparent : undefined);
  } catch (error) {
    span.fail(error);
    throw error;
  }
  const { attempt } = result;
  span.end({ outcome: attempt.outcome, errorClass: attempt.error_class, statusCode: attempt.status_code, durationMs: attempt.duration_ms, nextAttemptAt: result.next ?? null });
  return result;
}

async function sendOnce(ctx: AppContext, orgId: string, loaded: LoadedAttempt, retry: boolean, traceparent: string | undefined): Promise<AttemptResult> {
  const { event, subscription, deliveryId, attemptNumber } = loaded;
  const request = buildDeliveryRequest({ event, subscription, deliveryId, attemptNumber, secrets: loaded.secrets, now: ctx.now(), traceparent });
  const result = await ctx.egress.send({ url: request.url, method: "POST", headers: request.headers, body: request.body, timeoutMs: subscription.timeout_ms, owner: orgId });
  const now = ctx.now();
  const succeeded = result.ok && result.status >= 200 && result.status < 300;
  const statusCode = result.ok ? result.status : null;
  const control = result.ok && !succeeded ? receiverControl(result.status, result.headers) : null;
  const next = succeeded || !retry || control
    ? undefined
    : nextAttemptAt(retryPolicyFor(ctx, subscription), attemptNumber, now, { statusCode, retryAfter: result.ok ? result.headers["retry-after"] : undefined });
  const excerptLimit = ctx.config.HOOKLEDGER_RESPONSE_EXCERPT_BYTES;
  // Without the credentials the request carried, should the receiver echo them (responseScrubbing.ts).
  const response = result.ok ? scrubResponse(subscription.headers, result.headers, storableExcerpt(result.bodyExcerpt, excerptLimit)) : { headers: {}, excerpt: null };
  return {
    loaded,
    succeeded,
    next,
    retry,
    control,
    attempt: {
      attempt_id: randomUUID(),
      delivery_id: deliveryId,
      event_id: event.event_id,
      subscription_id: subscription.subscription_id,
      attempt_number: attemptNumber,
      outcome: succeeded ? "succeeded" : control === "abort" ? "aborted" : "failed",
      status_code: statusCode,
      error_class: result.ok ? (succeeded ? null : "http_status") : result.errorClass,
      error_message: result.ok ? (succeeded ? null : `endpoint answered ${result.status}`) : result.message,
      duration_ms: Math.round(result.durationMs),
      response_headers: response.headers,
      response_excerpt: response.excerpt,
      next_attempt_at: next ?? null,
    },
  };
}

/**
 * The first `limit` bytes (in UTF-8) of a response body's text, as Postgres can store it: U+0000 becomes U+FFFD, as
 * bytes that are not UTF-8 already did when the body was decoded, since neither jsonb (the ledger entry) nor text
 * can hold it — a receiver's PNG or gzip error page made the whole group's record fail, and every job in it run again.
 */
export function storableExcerpt(body: string, limit: number): string {
  return Buffer.from(body).subarray(0, limit).toString("utf8").replaceAll("\u0000", "\uFFFD");
}

/**
 * Collects finished attempts and records them in groups: everything that finished within RECORD_WINDOW_MS of the
 * first unrecorded one goes into one transaction. Groups are recorded one after another, in order.
 */
class OutcomeRecorder {
  private buffer: AttemptResult[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;
  readonly recorded = new Set<string>();

  constructor(
    private readonly ctx: AppContext,
    private readonly orgId: string,
  ) {}

  add(result: AttemptResult, last: boolean): void {
    this.buffer.push(result);
    if (last) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), RECORD_WINDOW_MS);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const group = this.buffer;
    this.buffer = [];
    if (group.length === 0) return;
    this.chain = this.chain.then(async () => {
      if (this.failure) return;
      try {
        for (const result of await recordShared(this.ctx, this.orgId, group)) this.recorded.add(result.loaded.deliveryId);
      } catch (error) {
        this.failure = error;
      }
    });
  }

  /** Waits for every group; throws the first recording failure (the job is then run again). */
  async settled(): Promise<void> {
    this.flush();
    await this.chain;
    if (this.failure) throw this.failure;
  }
}

interface Planned {
  loaded: LoadedAttempt;
  /** Epoch ms before which it must not be sent (its rate-limit slot). */
  notBefore?: number;
  /** Holds the half-open circuit's probe slot of this process. */
  probe?: boolean;
}

interface Deferred {
  loaded: LoadedAttempt;
  at: Date;
  reason: string;
}

/**
 * Which loaded deliveries go out now, and which wait (no attempt recorded, schedule kept): an open circuit holds
 * its endpoint's deliveries until its retry time, then lets one probe through per process; a rate-limited
 * endpoint gets the slots of the next second, the rest come back about when their turn is.
 */
async function plan(ctx: AppContext, orgId: string, ready: LoadedAttempt[], slots: EndpointSlots): Promise<{ send: Planned[]; deferred: Deferred[] }> {
  const now = ctx.now();
  const send: Planned[] = [];
  const deferred: Deferred[] = [];
  const open: LoadedAttempt[] = [];
  for (const loaded of ready) {
    const { subscription } = loaded;
    // A retry or recover a user asked for goes out now: it is the endpoint's probe (success closes the circuit).
    if (subscription.circuit_state !== "open" || loaded.manual) send.push({ loaded });
    else if (subscription.circuit_retry_at && subscription.circuit_retry_at > now) deferred.push({ loaded, at: subscription.circuit_retry_at, reason: "circuit open" });
    else open.push(loaded);
  }
  for (const loaded of open) {
    const probe = await slots.acquire(`probe:${loaded.subscription.subscription_id}`, 1, 0);
    if (probe) send.push({ loaded, probe });
    else deferred.push({ loaded, at: new Date(now.getTime() + PROBE_REQUEUE_MS), reason: "circuit half-open, probe in flight" });
  }
  const paced = groupBy(
    send.filter((planned) => planned.loaded.subscription.rate_limit_per_second !== null),
    (planned) => planned.loaded.subscription.subscription_id,
  );
  if (paced.size === 0) return { send, deferred };
  const grants = await withTenant(ctx.sql, orgId, (tx) =>
    reserveSlots(tx, [...paced].map(([subscriptionId, group]) => ({ subscriptionId, count: group.length, rate: group[0]?.loaded.subscription.rate_limit_per_second ?? 1 }))),
  );
  const later = new Set<Planned>();
  for (const [subscriptionId, group] of paced) {
    const grant = grants.get(subscriptionId);
    if (!grant) continue;
    group.forEach((planned, j) => {
      const slot = grant.start.getTime() + (j * 1000) / grant.rate;
      if (j < grant.granted) planned.notBefore = slot;
      else {
        later.add(planned);
        deferred.push({ loaded: planned.loaded, at: new Date(slot), reason: "rate limit" });
      }
    });
  }
  return { send: send.filter((planned) => !later.has(planned)), deferred };
}

/**
 * Makes one attempt of each requested delivery of one organization and records the outcomes; answers one
 * outcome per request, in order.
 *
 * With `handOver` (the worker), the call returns at the hand-over time (handOverClock.ts) even if some sends are
 * still out: a slow or hanging endpoint must not hold the job, and with it one of the worker's slots, for its
 * whole timeout. Sends still waiting for their turn are given up, and sends in progress carry on in the background
 * and record their outcome when they end; for both, a job for the same attempt is queued before this returns, due
 * after the send's timeout (see standIns). If the process dies meanwhile, that job makes the attempt again (at least once); if the
 * outcome was recorded, it finds the attempt made and skips it (one recorded outcome per attempt).
 */
export async function attemptDeliveries(ctx: AppContext, orgId: string, requests: AttemptRequest[], options: AttemptOptions): Promise<AttemptOutcome[]> {
  const { ready, skipped, unopened } = await loadShared(ctx, orgId, requests);
  const outcomes = new Map<string, AttemptOutcome>(skipped.map((skip) => [skip.deliveryId, { kind: "skipped", reason: skip.reason }]));
  const { slots, handOver } = options;
  const { send: planned, deferred }: { send: Planned[]; deferred: Deferred[] } = slots ? await plan(ctx, orgId, ready, slots) : { send: ready.map((loaded) => ({ loaded })), deferred: [] };
  const recorder = new OutcomeRecorder(ctx, orgId);
  const results = new Map<string, AttemptResult>();
  // Attempts this run makes, claimed right before each send and released once recorded (attemptClaims.ts).
  const claims = attemptClaimsOf(ctx);
  const claimed: LoadedAttempt[] = [];
  const releaseClaims = () => {
    for (const loaded of claimed.splice(0)) claims.release(loaded.deliveryId, loaded.attemptNumber);
  };
  /** Deliveries not yet sent (waiting for their rate-limit time or an endpoint slot), and those being sent since when. */
  const waiting = new Set<Planned>();
  const sending = new Map<Planned, number>();
  const clock = handOver ? new HandOverClock(handOver.capMs, handOver.stragglerMs, planned.length) : undefined;
  let handedOver = false;
  let unfinished = planned.length;
  const finish = (result: AttemptResult | undefined) => {
    unfinished -= 1;
    clock?.done();
    if (!result) return;
    results.set(result.loaded.deliveryId, result);
    recorder.add(result, unfinished === 0);
  };
  const sends = Promise.all(
    planned.map(async (item) => {
      const { loaded, notBefore, probe } = item;
      const endpoint = loaded.subscription.subscription_id;
      waiting.add(item);
      try {
        const wait = (notBefore ?? 0) - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const limit = loaded.subscription.max_concurrency ?? ctx.config.HOOKLEDGER_ENDPOINT_CONCURRENCY;
        const stalled = slots?.stalledMs(endpoint, limit) ?? 0;
        // undefined: no slot needed (the test ping) or none asked for (already handed over).
        const acquired = slots && !handedOver ? await slots.acquire(endpoint, limit, stalled < STALLED_MS ? SLOT_WAIT_MS : 0) : undefined;
        waiting.delete(item);
        // Handed over while waiting: the queued job makes this attempt.
        if (handedOver) {
          if (acquired) slots?.release(endpoint);
          return;
        }
        if (acquired === false) {
          const requeueMs = busyRequeueMs(stalled, loaded.subscription.timeout_ms);
          deferred.push({ loaded, at: new Date(ctx.now().getTime() + requeueMs), reason: stalled < STALLED_MS ? "endpoint busy" : "endpoint stalled" });
          finish(undefined);
          return;
        }
        if (!claims.claim(loaded.deliveryId, loaded.attemptNumber)) {
          // Another job of this process is making this attempt: looked at again shortly, when it has been recorded
          // (then skipped) or, if its job failed to record it, made then (at least once).
          if (acquired) slots?.release(endpoint);
          deferred.push({ loaded, at: new Date(ctx.now().getTime() + BUSY_REQUEUE_MS), reason: "attempt in flight" });
          finish(undefined);
          return;
        }
        claimed.push(loaded);
        sending.set(item, Date.now());
        try {
          finish(await send(ctx, orgId, loaded, options.retry));
        } finally {
          sending.delete(item);
          slots?.release(endpoint);
        }
      } finally {
        if (probe) slots?.release(`probe:${endpoint}`);
      }
    }),
  );
  try {
    return await settle();
  } finally {
    // Handed over, the sends still out are recorded later, and their claims released then (outlive below).
    if (!handedOver) releaseClaims();
  }

  async function settle(): Promise<AttemptOutcome[]> {
    const allDone = clock ? await Promise.race([sends.then(() => true as const), clock.due]) : await sends.then(() => true as const);
    clock?.stop();
    const handed: Deferred[] = [];
    if (!allDone) {
      handedOver = true;
      handed.push(...standIns(ctx, [...waiting], [...sending]));
      // The rest is recorded as it ends; a failure there is only logged (the queued jobs make those attempts).
      const late = handed.map((item) => item.loaded);
      outlive(
        ctx,
        sends
          .then(() => recorder.settled())
          .then(() => countRecorded(ctx, late, results, recorder.recorded))
          .catch((error: unknown) => ctx.log.warn("recording attempts that outlived their job failed; their queued jobs will make them", { error }))
          .finally(releaseClaims),
      );
    }
    await recorder.settled();
    // One insert for everything put off or handed over, committed before the job completes.
    const later = [...[...deferred, ...handed].map(({ loaded, at, reason }) => ({ deliveryId: loaded.deliveryId, attempt: loaded.attemptNumber, runAt: at, manual: loaded.manual, reason })), ...heldBack(ctx, unopened)];
    if (later.length > 0) {
      await deferShared(ctx, orgId, later.map(({ reason: _reason, ...delivery }) => delivery));
      for (const { deliveryId, reason } of later) {
        outcomes.set(deliveryId, { kind: "deferred", reason });
        ctx.metrics.deliveriesDeferred.inc({ reason });
      }
    }
    const handedIds = new Set(handed.map(({ loaded }) => loaded.deliveryId));
    const recordedAt = ctx.now();
    for (const [deliveryId, result] of results) {
      if (handedIds.has(deliveryId)) continue;
      if (!recorder.recorded.has(deliveryId)) outcomes.set(deliveryId, { kind: "skipped", reason: "another worker recorded this attempt" });
      else outcomes.set(deliveryId, { kind: "attempted", attempt: { ...result.attempt, attempted_at: recordedAt } });
    }
    countRecorded(ctx, ready.filter((loaded) => !handedIds.has(loaded.deliveryId)), results, recorder.recorded);
    return requests.map((request) => outcomes.get(request.deliveryId) ?? { kind: "skipped", reason: "delivery is missing" });
  }
}

/**
 * The deliveries whose subscription the keyring cannot open (attemptLoad.ts), put off as an open circuit puts its
 * endpoint's off: by the circuit cooldown, again each time until the keyring opens it, schedule and attempt number
 * kept. No attempt is recorded (the endpoint is not at fault), and nothing counts towards its circuit.
 */
function heldBack(ctx: AppContext, unopened: Unopened[]): (ScheduledDelivery & { deliveryId: string; reason: string })[] {
  const at = new Date(ctx.now().getTime() + ctx.config.HOOKLEDGER_CIRCUIT_COOLDOWN_SECONDS * 1000);
  return unopened.map(({ deliveryId, attemptNumber, manual }) => ({ deliveryId, attempt: attemptNumber, runAt: at, manual, reason: "secret unavailable" }));
}

/** Grace after a send's timeout before its stand-in job runs: time for the outcome to be recorded. */
const HAND_OVER_GRACE_MS = 30_000;

/**
 * The stand-in jobs of the deliveries a job hands over, one for the same attempt each: a waiting one due when it
 * would have been sent (or shortly), one being sent due after its timeout and a grace.
 */
function standIns(ctx: AppContext, waiting: Planned[], sending: [Planned, number][]): Deferred[] {
  const now = ctx.now().getTime();
  return [
    ...waiting.map(({ loaded, notBefore }) => ({ loaded, at: new Date(Math.max(notBefore ?? 0, now + BUSY_REQUEUE_MS)), reason: "handed over" })),
    ...sending.map(([{ loaded }, since]) => ({ loaded, at: new Date(since + loaded.subscription.timeout_ms + HAND_OVER_GRACE_MS), reason: "handed over" })),
  ];
}

/** Sends that outlived their job, per process: shutdown lets them end and be recorded (settleHandedOverSends). */
const outliving = new WeakMap<AppContext, Set<Promise<void>>>();

function outlive(ctx: AppContext, work: Promise<void>): void {
  let set = outliving.get(ctx);
  if (!set) outliving.set(ctx, (set = new Set()));
  const tracked = set;
  tracked.add(work);
  void work.finally(() => tracked.delete(work));
}

/** Waits for the sends jobs handed over to end and be recorded (before the pool they record through closes). */
export async function settleHandedOverSends(ctx: AppContext): Promise<void> {
  await Promise.all([...(outliving.get(ctx) ?? [])]);
}

/** Attempt metrics for the given deliveries whose outcome this run recorded. */
function countRecorded(ctx: AppContext, loaded: LoadedAttempt[], results: Map<string, AttemptResult>, recorded: Set<string>): void {
  for (const { deliveryId } of loaded) {
    const result = results.get(deliveryId);
    if (!result || !recorded.has(deliveryId)) continue;
    ctx.metrics.attempts.inc({ outcome: result.attempt.outcome, error_class: result.attempt.error_class ?? "none" });
    ctx.metrics.attemptDuration.observe({ outcome: result.attempt.outcome }, result.attempt.duration_ms / 1000);
    if (result.next) ctx.metrics.retriesScheduled.inc();
    else if (!result.succeeded && result.control !== "abort") ctx.metrics.deliveriesFailed.inc();
  }
}

/** One attempt of one delivery (the subscription test ping). */
export async function attemptDelivery(ctx: AppContext, orgId: string, deliveryId: string, options: { retry: boolean } = { retry: true }): Promise<AttemptOutcome> {
  const [outcome] = await attemptDeliveries(ctx, orgId, [{ deliveryId }], options);
  return outcome ?? { kind: "skipped", reason: "delivery is missing" };
}
