/**
 * Recording the outcomes of a group of attempts in ONE transaction: their `delivery.attempted` entries (and
 * `delivery.failed` where attempts are exhausted, `delivery.aborted` where the receiver asked to stop),
 * projections, next tries, endpoints disabled by a 410 or for failing long enough, and the operational events of
 * what changed (operationalPublish.ts) — none for successes of a healthy endpoint, which cost nothing extra.
 *
 * Each outcome is appended at the delivery-stream version read before the send, so a second run of the same
 * attempt (at-least-once) cannot record a second outcome: its append conflicts, and it is dropped from the group
 * while the others are recorded. An append that conflicts because something else happened to the delivery while
 * the request was out (its subscription was deleted or disabled, a retry was asked for) is not a second run: the
 * attempt was made, and it is recorded after what happened (see lateRecord).
 */
import type { AppContext } from "../context.ts";
import type { Tx } from "../db/connect.ts";
import { withTenant } from "../db/tenant.ts";
import { sentTogether } from "../db/sentTogether.ts";
import { ANY_VERSION, appendConflict, STREAM_DOES_NOT_EXIST, type StreamAppend } from "../ledger/append.ts";
import type { EntryData, NewEntry } from "../ledger/catalogue.ts";
import { StreamVersionConflictError } from "../ledger/errors.ts";
import { deliveryStream } from "./appends.ts";
import { WORKER_META, type LoadedAttempt } from "./attemptLoad.ts";
import type { AttemptRow } from "./deliveryStore.ts";
import { endpointAlerts, type EndpointBefore } from "./endpointAlerts.ts";
import { scheduleRetries } from "./jobs.ts";
import type { OperationalFact } from "./operationalEvents.ts";
import { publishOperationalEvents } from "./operationalPublish.ts";
import type { ReceiverControl } from "./receiverControl.ts";
import { cancelOpenDeliveries, subscriptionStream } from "./subscriptions.ts";

export type AttemptData = Omit<AttemptRow, "attempted_at" | "error_class"> & { error_class: EntryData<"delivery.attempted">["error_class"] };

export interface AttemptResult {
  loaded: LoadedAttempt;
  attempt: AttemptData;
  succeeded: boolean;
  next: Date | undefined;
  /** False for the subscription test ping (no retries, so its failure exhausts nothing). */
  retry: boolean;
  /** What the receiver's answer asked for beyond success or failure (receiverControl.ts). */
  control: ReceiverControl | null;
  /**
   * Recorded after another entry of its delivery that came while the request was out (lateRecord): the attempt
   * is recorded as made, and nothing follows from it (no delivery.failed or delivery.aborted, and no retry unless
   * that entry asked for one).
   */
  late?: true;
}

/** A failure for endpoint health: an aborted attempt is not one (the receiver answered, and chose to stop). */
export const countsAsFailure = (result: AttemptResult) => !result.succeeded && result.control !== "abort";

function appendsOf(result: AttemptResult): StreamAppend {
  const { attempt, loaded } = result;
  const entries: NewEntry[] = [{ type: "delivery.attempted", data: { ...attempt, next_attempt_at: result.next?.toISOString() ?? null }, meta: WORKER_META }];
  if (result.late) {
    // What came between decides the delivery's state (cancelled, or pending for the retry asked for).
  } else if (result.control === "abort") {
    entries.push({ type: "delivery.aborted", data: { delivery_id: loaded.deliveryId, attempts: attempt.attempt_number, status_code: attempt.status_code }, meta: WORKER_META });
  } else if (!result.succeeded && !result.next) {
    entries.push({ type: "delivery.failed", data: { delivery_id: loaded.deliveryId, attempts: attempt.attempt_number }, meta: WORKER_META });
  }
  // Version 0: the delivery's stream has no entry yet (fanned out with its event, sql/070), and this one begins it.
  return { stream: deliveryStream(loaded.deliveryId), expectedStreamVersion: loaded.version === 0 ? STREAM_DOES_NOT_EXIST : loaded.version, entries };
}

/** delivery.exhausted for each delivery whose retries ran out (not a test ping, not a 410: that one disables). */
function exhaustedFacts(results: AttemptResult[]): OperationalFact[] {
  return results
    .filter((result) => countsAsFailure(result) && !result.next && result.retry && result.control === null && !result.late)
    .map(({ loaded, attempt }) => ({
      type: "delivery.exhausted",
      data: {
        app_id: loaded.subscription.app_id,
        subscription_id: loaded.subscription.subscription_id,
        delivery_id: loaded.deliveryId,
        event_id: loaded.event.event_id,
        event_type: loaded.event.event_type,
        attempts: attempt.attempt_number,
        last_status_code: attempt.status_code,
        last_error_class: attempt.error_class,
      },
    }));
}

/**
 * Records the results; answers those recorded (a result whose attempt another run recorded first is left out).
 */
export async function recordAttempts(ctx: AppContext, orgId: string, results: AttemptResult[]): Promise<AttemptResult[]> {
  if (await recordSuccessesInOneStatement(ctx, orgId, results)) return results;
  // What is written, each with the result the caller handed in (a late record is written as a copy).
  let remaining = results.map((result) => ({ written: result, asked: result }));
  // Each conflict drops a result or makes it late; a group cannot conflict more often than twice per member (a
  // late record conflicts again only if yet another entry of its delivery came meanwhile: it is then dropped).
  for (let round = 0; remaining.length > 0 && round <= 2 * results.length; round++) {
    try {
      const writing = remaining;
      await withTenant(ctx.sql, orgId, (tx) => writeAttempts(ctx, tx, orgId, writing.map((pair) => pair.written)));
      ctx.metrics.attemptGroupsRecorded.inc({ path: "transaction" });
      return remaining.map((pair) => pair.asked);
    } catch (error) {
      if (!(error instanceof StreamVersionConflictError)) throw error;
      const conflicted = remaining.filter((pair) => deliveryStream(pair.written.loaded.deliveryId) === error.stream);
      remaining = remaining.filter((pair) => !conflicted.includes(pair));
      for (const pair of conflicted) {
        const late = pair.written.late ? undefined : await lateRecord(ctx, orgId, pair.written);
        if (late) remaining.push({ written: late, asked: pair.asked });
      }
    }
  }
  return remaining.map((pair) => pair.asked);
}

/**
 * A result whose append conflicted: dropped (undefined) if another run recorded an attempt of its delivery first,
 * which is what a conflict usually means (at-least-once); else the same attempt to be recorded late, after the
 * entries that came while its request was out — a cancellation (the subscription deleted, disabled or gone) or a
 * retry asked for. The receiver got the request, so the attempt is part of the delivery's history either way.
 */
async function lateRecord(ctx: AppContext, orgId: string, result: AttemptResult): Promise<AttemptResult | undefined> {
  const since = await withTenant(ctx.sql, orgId, (tx) => tx<{ version: number; type: string }[]>`
    select version, type from hookledger.ledger
    where org_id = hookledger.current_org_id() and stream = ${deliveryStream(result.loaded.deliveryId)} and version > ${result.loaded.version}
    order by version`);
  const last = since.at(-1);
  if (!last || since.some((entry) => entry.type === "delivery.attempted")) return undefined;
  // A retry asked for while this request was out queued this same attempt number, and its job finds the number
  // taken once this is recorded: a failure here then schedules the next attempt now, or the delivery would stay
  // pending with nothing queued.
  const retryWaits = last.type === "delivery.retry_requested" && !result.succeeded && result.control !== "abort";
  return { ...result, loaded: { ...result.loaded, version: last.version }, next: retryWaits ? ctx.now() : undefined, late: true };
}

/** The common case: every attempt succeeded, to an endpoint that was healthy (no failures, circuit closed). */
export function healthySuccess(result: AttemptResult): boolean {
  const { subscription } = result.loaded;
  return result.succeeded && !result.next && subscription.consecutive_failures === 0 && subscription.circuit_state === "closed";
}

/**
 * Healthy successes in one statement (hookledger.record_successes, autocommit): no endpoint health to order, no
 * circuit to move, no retry to schedule. False when the group is not that, or an attempt was recorded by another
 * run first (the transactional path then drops it and records the rest).
 */
async function recordSuccessesInOneStatement(ctx: AppContext, orgId: string, results: AttemptResult[]): Promise<boolean> {
  if (results.length === 0 || !results.every(healthySuccess)) return false;
  // record_successes writes these three projections itself: only if no other projection wants the entries.
  if (!ctx.ledger.projectedOnlyBy("delivery.attempted", ["delivery_attempts", "deliveries", "subscriptions"])) return false;
  const encoded = ctx.ledger.encode(results.map(appendsOf));
  try {
    await ctx.sql`select hookledger.record_successes(${orgId}::uuid, ${encoded.streams}::text[], ${encoded.expected}::int[], ${ctx.sql.json(encoded.rows as never)}::jsonb)`;
    ctx.metrics.attemptGroupsRecorded.inc({ path: "one_statement" });
    return true;
  } catch (error) {
    if (appendConflict(error, []) !== undefined) return false;
    throw error;
  }
}

async function writeAttempts(ctx: AppContext, tx: Tx, orgId: string, results: AttemptResult[]): Promise<void> {
  const now = ctx.now();
  const retries = results.filter((result) => result.next).map((result) => ({ deliveryId: result.loaded.deliveryId, attempt: result.attempt.attempt_number + 1, runAt: result.next }));
  // Endpoint health is a running total over attempts in ledger order. Taking an endpoint's row before appending
  // makes concurrent groups of it append and update in the same order, so a rebuild (which replays by position)
  // reaches the same health as the live row. Only where the order matters: a group with a failure, or an endpoint
  // that was failing when loaded. Successes of a healthy endpoint only move last_success_at forward, whatever the
  // order, and taking the row for them would serialise every worker's records on a busy endpoint. Sorted, so two
  // groups cannot deadlock.
  // The same read gives each endpoint's failure count before this group, from which the operational events of
  // its crossings (failing thresholds, recovery) follow, at no extra statement.
  const ordered = [
    ...new Set(results.filter((result) => countsAsFailure(result) || result.loaded.subscription.consecutive_failures > 0 || result.loaded.subscription.circuit_state === "open")
      .map((result) => result.loaded.subscription.subscription_id)),
  ].sort();
  const before = ordered.length === 0 ? [] : await tx<EndpointBefore[]>`
    select subscription_id, consecutive_failures, enabled and deleted_at is null as live from hookledger.subscriptions
    where org_id = hookledger.current_org_id() and subscription_id = any(${ordered}::uuid[])
    order by subscription_id for no key update`;
  await sentTogether([ctx.ledger.recordMany(tx, results.map(appendsOf)), scheduleRetries(tx, orgId, retries, now)]);
  const facts: OperationalFact[] = [...endpointAlerts(results, before, ctx.config.HOOKLEDGER_AUTO_DISABLE_FAILURES), ...exhaustedFacts(results)];
  facts.push(...(await disableGoneEndpoints(ctx, tx, results)));
  facts.push(...(await updateEndpointHealth(ctx, tx, results, now)));
  await publishOperationalEvents(ctx, tx, orgId, facts, WORKER_META);
}

/** Disables each endpoint that answered 410 Gone (receiverControl.ts), cancelling its open deliveries. */
async function disableGoneEndpoints(ctx: AppContext, tx: Tx, results: AttemptResult[]): Promise<OperationalFact[]> {
  const gone = new Map(results.filter((result) => result.control === "gone").map((result) => [result.loaded.subscription.subscription_id, result]));
  if (gone.size === 0) return [];
  const enabled = await tx<{ subscription_id: string; consecutive_failures: number }[]>`
    select subscription_id, consecutive_failures from hookledger.subscriptions
    where org_id = hookledger.current_org_id() and subscription_id = any(${[...gone.keys()]}::uuid[]) and enabled and deleted_at is null`;
  const facts: OperationalFact[] = [];
  for (const row of enabled) {
    const result = gone.get(row.subscription_id) as AttemptResult;
    await ctx.ledger.record(tx, subscriptionStream(row.subscription_id), ANY_VERSION, [
      { type: "subscription.disabled", data: { subscription_id: row.subscription_id, reason: "gone" }, meta: WORKER_META },
    ]);
    await cancelOpenDeliveries(ctx, tx, row.subscription_id, "subscription gone (410)", WORKER_META);
    ctx.log.warn("subscription disabled: endpoint answered 410 Gone", { subscription_id: row.subscription_id });
    facts.push({
      type: "endpoint.disabled",
      data: {
        app_id: result.loaded.subscription.app_id,
        subscription_id: row.subscription_id,
        reason: "gone",
        consecutive_failures: row.consecutive_failures,
        delivery_id: result.loaded.deliveryId,
        last_status_code: result.attempt.status_code,
        last_error_class: result.attempt.error_class,
      },
    });
  }
  return facts;
}

interface EndpointHealth {
  subscription_id: string;
  enabled: boolean;
  consecutive_failures: number;
  failing_since: Date | null;
  circuit_state: "closed" | "open";
  circuit_retry_at: Date | null;
  circuit_opens: number;
}

/**
 * After the attempts' projections: opens or closes circuits, and auto-disables endpoints that have failed for
 * long enough, reading every endpoint of the group with one statement.
 */
async function updateEndpointHealth(ctx: AppContext, tx: Tx, results: AttemptResult[], now: Date): Promise<OperationalFact[]> {
  const lastBySubscription = new Map<string, AttemptResult>();
  const succeeded = new Set<string>();
  for (const result of results) {
    if (result.control === "abort") continue;
    const id = result.loaded.subscription.subscription_id;
    lastBySubscription.set(id, result);
    if (result.succeeded) succeeded.add(id);
  }
  const failing = [...lastBySubscription].filter(([, result]) => !result.succeeded).map(([id]) => id);
  const reopenable = [...succeeded].filter((id) => lastBySubscription.get(id)?.loaded.subscription.circuit_state === "open");
  if (failing.length === 0 && reopenable.length === 0) return [];
  const rows = await tx<EndpointHealth[]>`
    select subscription_id, enabled, consecutive_failures, failing_since, circuit_state, circuit_retry_at, circuit_opens
    from hookledger.subscriptions
    where org_id = hookledger.current_org_id() and subscription_id = any(${[...failing, ...reopenable]}::uuid[]) and deleted_at is null`;
  const circuitEntries: StreamAppend[] = [];
  const facts: OperationalFact[] = [];
  const threshold = ctx.config.HOOKLEDGER_CIRCUIT_FAILURES;
  for (const row of rows) {
    const last = lastBySubscription.get(row.subscription_id);
    if (!last || !row.enabled) continue;
    const endpoint = { app_id: last.loaded.subscription.app_id, subscription_id: row.subscription_id };
    if (last.succeeded) {
      if (row.circuit_state === "open") {
        circuitEntries.push(circuitClosed(row.subscription_id));
        facts.push({ type: "endpoint.circuit_closed", data: endpoint });
      }
      continue;
    }
    // A failure: open a closed circuit at the threshold; re-open an open one whose probe (retry time passed) failed.
    const probeFailed = row.circuit_state === "open" && (!row.circuit_retry_at || row.circuit_retry_at <= now);
    const tripped = row.circuit_state === "closed" && threshold > 0 && row.consecutive_failures >= threshold;
    if (tripped || probeFailed) {
      const opened = circuitOpened(ctx, row, last, now);
      circuitEntries.push(opened.append);
      facts.push({
        type: "endpoint.circuit_opened",
        data: { ...endpoint, consecutive_failures: row.consecutive_failures, opens: opened.opens, retry_at: opened.retryAt, last_status_code: last.attempt.status_code, last_error_class: last.attempt.error_class },
      });
    }
  }
  if (circuitEntries.length > 0) {
    await ctx.ledger.recordMany(tx, circuitEntries);
    for (const entry of circuitEntries) {
      const state = entry.entries[0]?.type === "subscription.circuit_opened" ? "open" : "closed";
      ctx.metrics.circuitTransitions.inc({ state });
      ctx.log.info(`endpoint circuit ${state === "open" ? "opened" : "closed"}`, { subscription_id: entry.stream.slice("subscription:".length) });
    }
  }
  const disabled = await autoDisableUnhealthy(ctx, tx, rows.filter((row) => failing.includes(row.subscription_id)), now);
  for (const row of disabled) {
    const last = lastBySubscription.get(row.subscription_id) as AttemptResult;
    facts.push({
      type: "endpoint.disabled",
      data: {
        app_id: last.loaded.subscription.app_id,
        subscription_id: row.subscription_id,
        reason: "auto_disabled",
        consecutive_failures: row.consecutive_failures,
        delivery_id: last.loaded.deliveryId,
        last_status_code: last.attempt.status_code,
        last_error_class: last.attempt.error_class,
      },
    });
  }
  return facts;
}

function circuitOpened(ctx: AppContext, row: EndpointHealth, last: AttemptResult, now: Date): { append: StreamAppend; opens: number; retryAt: string } {
  const opens = row.circuit_state === "open" ? row.circuit_opens + 1 : 1;
  const cooldownSeconds = Math.min(ctx.config.HOOKLEDGER_CIRCUIT_COOLDOWN_SECONDS * 2 ** (opens - 1), ctx.config.HOOKLEDGER_CIRCUIT_MAX_COOLDOWN_SECONDS);
  const retryAt = new Date(now.getTime() + cooldownSeconds * 1000).toISOString();
  const append: StreamAppend = {
    stream: subscriptionStream(row.subscription_id),
    expectedStreamVersion: ANY_VERSION,
    entries: [
      {
        type: "subscription.circuit_opened",
        data: {
          subscription_id: row.subscription_id,
          consecutive_failures: row.consecutive_failures,
          last_error_class: last.attempt.error_class,
          retry_at: retryAt,
          opens,
        },
        meta: WORKER_META,
      },
    ],
  };
  return { append, opens, retryAt };
}

function circuitClosed(subscriptionId: string): StreamAppend {
  return {
    stream: subscriptionStream(subscriptionId),
    expectedStreamVersion: ANY_VERSION,
    entries: [{ type: "subscription.circuit_closed", data: { subscription_id: subscriptionId }, meta: WORKER_META }],
  };
}

/** Auto-disables subscriptions after N consecutive failed attempts spanning at least T (both configurable); answers them. */
async function autoDisableUnhealthy(ctx: AppContext, tx: Tx, endpoints: EndpointHealth[], now: Date): Promise<EndpointHealth[]> {
  const threshold = ctx.config.HOOKLEDGER_AUTO_DISABLE_FAILURES;
  if (threshold === 0) return [];
  const periodMs = ctx.config.HOOKLEDGER_AUTO_DISABLE_PERIOD_SECONDS * 1000;
  const unhealthy = endpoints.filter(
    (row) => row.enabled && row.failing_since && row.consecutive_failures >= threshold && now.getTime() - row.failing_since.getTime() >= periodMs,
  );
  for (const subscription of unhealthy) {
    await ctx.ledger.record(tx, subscriptionStream(subscription.subscription_id), ANY_VERSION, [
      {
        type: "subscription.auto_disabled",
        data: { subscription_id: subscription.subscription_id, consecutive_failures: subscription.consecutive_failures, failing_since: (subscription.failing_since as Date).toISOString() },
        meta: WORKER_META,
      },
    ]);
    await cancelOpenDeliveries(ctx, tx, subscription.subscription_id, "subscription auto-disabled", WORKER_META);
    ctx.metrics.autoDisabled.inc();
    ctx.log.warn("subscription auto-disabled", { subscription_id: subscription.subscription_id, consecutive_failures: subscription.consecutive_failures });
  }
  return unhealthy;
}
