/**
 * Event ingestion, in batches: concurrent requests of one organization are written by one transaction (group
 * commit, see db/groupCommit.ts) holding, for every event of the batch, `event.received` naming a delivery per
 * matching enabled subscription (sql/070), the event's and deliveries' projection rows and the delivery jobs —
 * each kind written with one statement for the whole batch. Commit, then each caller answers 202. An event that
 * fails its own checks (unknown type, schema, quota, a repeated event_id with other content) fails alone. A batch
 * that lost a race to a concurrent one (the same event_id in both) is written once more on fresh reads; if the
 * batch transaction fails otherwise, its events are written one by one so a bad one cannot fail its neighbours.
 *
 * Idempotency: a producer-chosen `event_id` may be sent again. The same request returns the original result;
 * a different request with the same id is a conflict. The request is compared by a hash of what defines the
 * event (application, type, content type, payload, labels, channels), not by the raw JSON text.
 */
import { createHash } from "node:crypto";
import type { AppContext } from "../context.ts";
import type { Tx } from "../db/connect.ts";
import { ConnectionLane } from "../db/connectionLane.ts";
import { GroupCommit, type ItemOutcome } from "../db/groupCommit.ts";
import { withTenant } from "../db/tenant.ts";
import { rolledBackByConcurrency } from "../db/rolledBackByConcurrency.ts";
import { sentTogether } from "../db/sentTogether.ts";
import type { StreamAppend } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { StreamVersionConflictError } from "../ledger/errors.ts";
import { ProblemError, type FieldError } from "../http/problem.ts";
import type { IngestBatchSpan } from "../observability/tracing.ts";
import { countEvents, eventQuotaExceeded, shardOf, utcDay } from "../tenancy/quotas.ts";
import { canonicalText } from "./canonicalJson.ts";
import { getEvent } from "./deliveryStore.ts";
import { eventTypeKey, readIngestLookups, type IngestLookups } from "./ingestLookups.ts";
import { fanoutCacheOf } from "./fanoutCache.ts";
import { jobWakeupsFor } from "./jobWakeups.ts";
import { enqueueDeliveries, newDeliveryJobs, volumePriority, type ScheduledDelivery } from "./jobs.ts";
import { matchesSubscription } from "./matching.ts";
import { payloadViolations, schemaBudgetsOf, schemaKey, type SchemaBudgets } from "./payloadSchema.ts";
import { RecentVolume } from "./recentVolume.ts";
import { eventReceived, fanOut, newEventId } from "./appends.ts";

export interface IncomingEvent {
  appId: string;
  /**
   * The uid the producer named the application by, when it did: `appId` is what the fan-out memory resolved it to
   * (eventApplication.ts), and the batch is decided only if the application still has it then.
   */
  appUid?: string;
  eventId?: string;
  eventType: string;
  contentType: string;
  encoding: "json" | "text" | "base64";
  /** JSON text, plain text, or base64, per `encoding`: exactly what is stored and delivered (after decoding base64). */
  payload: string;
  /** The parsed JSON payload, for schema validation (json encoding only). */
  parsedPayload?: unknown;
  labels: Record<string, string>;
  /** The producer's channels (1-10, none repeated), when it gave any. */
  channels?: string[] | undefined;
  occurredAt?: Date;
}

export interface IngestResult {
  event_id: string;
  deliveries_scheduled: number;
  /** True when this request repeated an earlier one with the same event_id. */
  duplicate: boolean;
  /** The event type is deprecated (answered with a Warning header). */
  deprecated: boolean;
}

export type IngestFailure =
  | { kind: "unknown_application" }
  /** The application named by uid no longer has it (moved, cleared, deleted) since it was resolved: resolve again. */
  | { kind: "uid_moved" }
  | { kind: "unknown_event_type" }
  | { kind: "schema_violation"; errors: { field: string; message: string }[] }
  | { kind: "idempotency_conflict" };

export class IngestError extends Error {
  override readonly name = "IngestError";
  constructor(readonly failure: IngestFailure) {
    super(failure.kind);
  }
}

/** SHA-256 of the payload bytes as they are delivered (base64 payloads decoded). */
export function payloadSha256(event: Pick<IncomingEvent, "encoding" | "payload">): string {
  const bytes = event.encoding === "base64" ? Buffer.from(event.payload, "base64") : Buffer.from(event.payload, "utf8");
  return createHash("sha256").update(bytes).digest("hex");
}

/** The idempotency fingerprint: what defines the event, with JSON compared by content rather than spelling. */
function requestHash(event: IncomingEvent): string {
  const labels = Object.entries(event.labels).sort(([a], [b]) => (a < b ? -1 : 1));
  // Keys sorted at every level: `{"b":2,"a":1}` and `{"a":1,"b":2}` are the same event.
  const payload = event.encoding === "json" ? canonicalText(event.parsedPayload) : event.payload;
  const defining: unknown[] = [event.appId, event.eventType, event.contentType, event.encoding, payload, labels];
  // Channels as a set, and only when given: an event without channels keeps the fingerprint it had before them
  // (sql/091), so a producer that sends one again after an upgrade is answered as the repeat it is.
  if (event.channels) defining.push([...event.channels].sort());
  return createHash("sha256").update(JSON.stringify(defining)).digest("hex");
}


/** An event on its way into a batch, with its id drawn and its fingerprint computed outside the transaction. */
interface PendingEvent {
  event: IncomingEvent;
  meta: EntryMeta;
  eventId: string;
  fingerprint: string;
  /** The request span's traceparent, when traces are exported. */
  traceparent: string | undefined;
  /**
   * This event's fan-out span (its traceparent, stored on the event), started by the first plan that accepts it:
   * a batch the one-statement path declines is planned again, and must not start a second span.
   */
  fanoutTraceparent?: string | undefined;
  /**
   * Its payload checked against a schema (which, by schemaKey): a batch planned again (the transactional path, on
   * fresh reads) does not validate it again against the same schema.
   */
  checked?: { schemaKey: string; errors: FieldError[] } | undefined;
}

/**
 * The payload's violations of `schema`, checked once per item and schema.
 *
 * @throws ProblemError (429) when the schema must be compiled and the organization has used its compile budget.
 */
function schemaViolations(orgId: string, item: PendingEvent, schema: Record<string, unknown>, budgets: SchemaBudgets): FieldError[] {
  const key = schemaKey(schema);
  if (item.checked?.schemaKey !== key) item.checked = { schemaKey: key, errors: payloadViolations(schema, item.event.parsedPayload, orgId, budgets) };
  return item.checked.errors;
}

const MAX_BATCH = 256;
/**
 * Deliveries one flush schedules at most (an event wider than that alone). A flush is planned and encoded on the
 * event loop in one pass: 150 events to an application of 1,000 subscriptions were 150,000 deliveries in one flush,
 * which held the loop 1.2 s and took 400 MB; flushes of 10,000 hold it ~80 ms each and yield between them.
 */
const MAX_FLUSH_DELIVERIES = 10_000;

/** The uids a batch's producers named applications by. */
function uidsOf(items: PendingEvent[]): string[] {
  const uids = new Set<string>();
  for (const item of items) if (item.event.appUid !== undefined) uids.add(item.event.appUid);
  return [...uids];
}

/** Outcome of one event inside a batch, before the batch commits. */
type Decision = { accept: true; targets: string[]; deprecated: boolean } | { accept: false; outcome: ItemOutcome<IngestResult> };

function decide(orgId: string, item: PendingEvent, lookups: IngestLookups, quotaLeft: { n: number }, now: Date, budgets: SchemaBudgets): Decision {
  const { event } = item;
  const earlier = lookups.existing.get(item.eventId);
  if (earlier) {
    if (earlier.fingerprint !== item.fingerprint) return { accept: false, outcome: { ok: false, error: new IngestError({ kind: "idempotency_conflict" }) } };
    return { accept: false, outcome: { ok: true, value: { event_id: item.eventId, deliveries_scheduled: earlier.deliveries_scheduled, duplicate: true, deprecated: false } } };
  }
  // A uid moved or cleared since it was resolved (checked on the memory at the version ingest_batch confirms, or on
  // fresh reads): never to the application that had it. The caller resolves it again (the memory is forgotten by then).
  if (event.appUid !== undefined && lookups.appIdsByUid.get(event.appUid) !== event.appId) {
    return { accept: false, outcome: { ok: false, error: new IngestError({ kind: "uid_moved" }) } };
  }
  if (!lookups.liveApps.has(event.appId)) return { accept: false, outcome: { ok: false, error: new IngestError({ kind: "unknown_application" }) } };
  const eventType = lookups.eventTypes.get(eventTypeKey(event.appId, event.eventType));
  if (!eventType) return { accept: false, outcome: { ok: false, error: new IngestError({ kind: "unknown_event_type" }) } };
  if (eventType.schema && event.encoding === "json") {
    let errors: FieldError[];
    try {
      errors = schemaViolations(orgId, item, eventType.schema, budgets);
    } catch (error) {
      if (!(error instanceof ProblemError)) throw error;
      return { accept: false, outcome: { ok: false, error } };
    }
    if (errors.length > 0) return { accept: false, outcome: { ok: false, error: new IngestError({ kind: "schema_violation", errors }) } };
  }
  if (quotaLeft.n <= 0) return { accept: false, outcome: { ok: false, error: eventQuotaExceeded(lookups.quotas.events_per_day, now) } };
  quotaLeft.n -= 1;
  const targets = (lookups.subscriptionsByApp.get(event.appId) ?? []).filter((subscription) => matchesSubscription(subscription, event));
  return { accept: true, targets: targets.map((target) => target.subscription_id), deprecated: eventType.deprecated };
}

/** A batch decided: each item's outcome (accepted ones answered once the batch commits) and what to write. */
interface Plan {
  outcomes: ItemOutcome<IngestResult>[];
  appends: StreamAppend[];
  deliveries: ScheduledDelivery[];
  accepted: number;
  refused: number;
}

function planBatch(orgId: string, items: PendingEvent[], lookups: IngestLookups, quotaLeft: { n: number }, now: Date, budgets: SchemaBudgets, span: IngestBatchSpan | undefined): Plan {
  const plan: Plan = { outcomes: [], appends: [], deliveries: [], accepted: 0, refused: 0 };
  for (const item of items) {
    const decision = decide(orgId, item, lookups, quotaLeft, now, budgets);
    if (!decision.accept) {
      plan.outcomes.push(decision.outcome);
      plan.refused += 1;
      continue;
    }
    const { event } = item;
    const fanout = fanOut(decision.targets);
    if (span) {
      item.fanoutTraceparent ??= span.fanout({
        parent: item.traceparent,
        eventId: item.eventId,
        eventType: event.eventType,
        appId: event.appId,
        deliveriesScheduled: decision.targets.length,
      });
    }
    plan.appends.push(
      eventReceived(
        {
          event_id: item.eventId,
          app_id: event.appId,
          event_type: event.eventType,
          content_type: event.contentType,
          payload_encoding: event.encoding,
          payload: event.payload,
          payload_sha256: payloadSha256(event),
          request_fingerprint: item.fingerprint,
          labels: event.labels,
          // Left out when none: the entry and the stored event are as they were before channels.
          ...(event.channels ? { channels: event.channels } : {}),
          occurred_at: (event.occurredAt ?? now).toISOString(),
          deliveries_scheduled: fanout.length,
          deliveries: fanout,
          // Undefined when not traced: JSON leaves the key out of the entry.
          traceparent: item.fanoutTraceparent,
        },
        item.meta,
      ),
    );
    plan.deliveries.push(...fanout.map(({ delivery_id }) => ({ deliveryId: delivery_id, attempt: 1 })));
    plan.accepted += 1;
    plan.outcomes.push({ ok: true, value: { event_id: item.eventId, deliveries_scheduled: decision.targets.length, duplicate: false, deprecated: decision.deprecated } });
  }
  return plan;
}

/** Deliveries each organization's flushes scheduled lately, per context (one per process, as the batchers). */
const volumes = new WeakMap<AppContext, RecentVolume>();

/**
 * The priority a flush's jobs take at least: an organization that scheduled thousands of deliveries in the last
 * two seconds yields to quiet ones (jobs.ts, volumePriority). A batch the one-statement path declines is counted
 * again by the transactional path: rare, and it errs towards yielding.
 */
function busyFloor(ctx: AppContext, orgId: string, deliveries: number, now: Date): number {
  let volume = volumes.get(ctx);
  if (!volume) volumes.set(ctx, (volume = new RecentVolume()));
  return volumePriority(volume.add(orgId, deliveries, now.getTime()));
}

/** SQLSTATEs with which ingest_batch declines a batch the transactional path must decide (sql/031). */
const FANOUT_CHANGED = "HL412";
const DECLINED = new Set([FANOUT_CHANGED, "HL429", "HL409"]);
/** A taken event id: its stream or its events row exists, or it is twice in the batch (sql/081). */
const TAKEN = new Set(["ledger_streams_pkey", "events_pkey"]);

function declined(error: unknown): string | undefined {
  const { code, constraint_name: constraint } = error as { code?: unknown; constraint_name?: unknown };
  if (typeof code !== "string") return undefined;
  if (DECLINED.has(code) || (code === "23505" && typeof constraint === "string" && TAKEN.has(constraint))) return code;
  return undefined;
}
/** A batch the memory would refuse is decided on fresh reads; the memory is read again at most this often for it. */
const REFUSAL_REREAD_MS = 1_000;

/**
 * The common case in one statement: events the fan-out memory accepts, with new event ids, within the quota, are
 * written by `hookledger.ingest_batch` in autocommit — one round trip and one commit for the batch. Answers
 * undefined when the batch must be decided by the transactional path instead (a refusal, a taken event id, the
 * quota, a configuration change since the memory was read).
 */
async function writeBatchInOneStatement(ctx: AppContext, lane: ConnectionLane, orgId: string, items: PendingEvent[], span: IngestBatchSpan | undefined): Promise<ItemOutcome<IngestResult>[] | undefined> {
  // ingest_batch writes the events and deliveries tables itself: only if no other projection wants these entries.
  if (!ctx.ledger.projectedOnlyBy("event.received", ["events", "deliveries"])) return undefined;
  const cache = fanoutCacheOf(ctx);
  const fanout = await cache.of(orgId, [...new Set(items.map((item) => item.event.appId))], uidsOf(items));
  const now = ctx.now();
  const lookups: IngestLookups = { ...fanout, existing: new Map(), eventsToday: 0 };
  const plan = planBatch(orgId, items, lookups, { n: Number.POSITIVE_INFINITY }, now, schemaBudgetsOf(ctx.config), span);
  if (plan.refused > 0) {
    cache.forgetIfOlderThan(orgId, REFUSAL_REREAD_MS);
    return undefined;
  }
  const encoded = ctx.ledger.encode(plan.appends);
  // The jobs are cut by the database from the delivery ids the entries carry (sql/088), not sent twice.
  const jobs = newDeliveryJobs(plan.deliveries.length, busyFloor(ctx, orgId, plan.deliveries.length, now));
  try {
    await lane.run(
      (db) => db`
        select hookledger.ingest_batch(${orgId}::uuid, ${fanout.version}::bigint, ${fanout.quotas.events_per_day}::bigint, ${utcDay(now)}::date,
          ${shardOf(lane)}::int, ${plan.accepted}::int, ${encoded.streams}::text[], ${encoded.counts}::int[],
          ${db.json(encoded.rows as never)}::jsonb, ${jobs.size}::int, ${jobs.priority}::int, ${jobs.maxAttempts}::int)`,
    );
  } catch (error) {
    const code = declined(error);
    if (code === undefined) throw error;
    if (code === FANOUT_CHANGED) cache.forget(orgId);
    return undefined;
  }
  jobWakeupsFor(ctx.sql).jobsInserted(jobs.count);
  ctx.metrics.ingestBatches.inc({ path: "one_statement" });
  return plan.outcomes;
}

/**
 * Writes a batch of one organization's events whose event ids are all different: in one statement when it can,
 * else in one transaction on fresh reads. Traced, it is a batch span linked to every request it writes for, and a
 * fan-out span per accepted event under its request's span, ended when the batch has committed (or failed).
 */
async function writeBatch(ctx: AppContext, lane: ConnectionLane, orgId: string, items: PendingEvent[]): Promise<ItemOutcome<IngestResult>[]> {
  if (!ctx.tracing.enabled) return (await writeBatchInOneStatement(ctx, lane, orgId, items, undefined)) ?? (await writeBatchTransaction(ctx, orgId, items, undefined));
  const span = ctx.tracing.startIngestBatch(orgId, items.map((item) => item.traceparent));
  try {
    const outcomes = (await writeBatchInOneStatement(ctx, lane, orgId, items, span)) ?? (await writeBatchTransaction(ctx, orgId, items, span));
    span.end();
    return outcomes;
  } catch (error) {
    span.end(error);
    throw error;
  }
}

/** One transaction for a batch on fresh reads. */
async function writeBatchTransaction(ctx: AppContext, orgId: string, items: PendingEvent[], span: IngestBatchSpan | undefined): Promise<ItemOutcome<IngestResult>[]> {
  return withTenant(ctx.sql, orgId, async (tx: Tx) => {
    const now = ctx.now();
    const lookups = await readIngestLookups(tx, ctx.config, now, {
      appIds: [...new Set(items.map((item) => item.event.appId))],
      uids: uidsOf(items),
      types: items.map((item) => ({ appId: item.event.appId, name: item.event.eventType })),
      eventIds: items.filter((item) => item.event.eventId !== undefined).map((item) => item.eventId),
    });
    const plan = planBatch(orgId, items, lookups, { n: lookups.quotas.events_per_day - lookups.eventsToday }, now, schemaBudgetsOf(ctx.config), span);
    // Issued together: postgres.js pipelines them on the transaction's connection, one round trip for all. The
    // counter before the jobs, as ingest_batch takes them: the first deliver job ever inserts graphile-worker's task
    // row, and a flush holding that row uncommitted while it waited for a counter row another flush held (which then
    // waited for the task row) deadlocked.
    const floor = busyFloor(ctx, orgId, plan.deliveries.length, now);
    await sentTogether([ctx.ledger.recordMany(tx, plan.appends), countEvents(tx, now, plan.accepted), enqueueDeliveries(tx, orgId, plan.deliveries, now, floor)]);
    ctx.metrics.ingestBatches.inc({ path: "transaction" });
    return plan.outcomes;
  });
}

/**
 * Whether a batch's transaction failed only because a concurrent one won a race: that one committed an event id
 * this batch also wrote (the batch's fresh reads ran before that commit, its insert met the row after), or the
 * two deadlocked. Neither says anything about the batch's own events.
 */
function lostRace(error: unknown): boolean {
  return error instanceof StreamVersionConflictError || rolledBackByConcurrency(error);
}

/**
 * Writes a batch, and once more if it lost a race: the winner has committed by then (a unique violation is raised
 * only once it has), so the second transaction's fresh reads answer its event ids as the repeats or conflicts they
 * are, and the rest of the batch still commits together. Without this, a burst holding two requests for one
 * event_id that met in two concurrent flushes was written one event per transaction (39 commits for 39 events).
 */
async function writeBatchOnceMoreIfRaceLost(ctx: AppContext, lane: ConnectionLane, orgId: string, items: PendingEvent[]): Promise<ItemOutcome<IngestResult>[]> {
  try {
    return await writeBatch(ctx, lane, orgId, items);
  } catch (error) {
    if (!lostRace(error)) throw error;
    return await writeBatch(ctx, lane, orgId, items);
  }
}

/**
 * Runs one flush: the first event of each event_id is written in one transaction; a repeat of an id inside the
 * same flush is run after it commits, so it is answered as the repeat (or conflict) it is.
 */
/**
 * Splits a flush's events into parts of at most MAX_FLUSH_DELIVERIES deliveries, each written after the one before:
 * an event's weight is its application's enabled subscriptions (the most it can fan out to), read from the fan-out
 * memory the flush reads anyway. Narrow batches, the common case, stay one part.
 */
async function ingestInParts(ctx: AppContext, lane: ConnectionLane, orgId: string, items: PendingEvent[]): Promise<ItemOutcome<IngestResult>[]> {
  const fanout = await fanoutCacheOf(ctx).of(orgId, [...new Set(items.map((item) => item.event.appId))]);
  const parts: PendingEvent[][] = [];
  let weight = 0;
  for (const item of items) {
    const width = fanout.subscriptionsByApp.get(item.event.appId)?.length ?? 0;
    if (parts.length === 0 || weight + width > MAX_FLUSH_DELIVERIES) {
      parts.push([]);
      weight = 0;
    }
    (parts.at(-1) as PendingEvent[]).push(item);
    weight += width;
  }
  const outcomes: ItemOutcome<IngestResult>[] = [];
  for (const part of parts) outcomes.push(...(await ingestBatch(ctx, lane, orgId, part)));
  return outcomes;
}

async function ingestBatch(ctx: AppContext, lane: ConnectionLane, orgId: string, items: PendingEvent[]): Promise<ItemOutcome<IngestResult>[]> {
  const seen = new Set<string>();
  const first: number[] = [];
  const repeats: number[] = [];
  items.forEach((item, i) => {
    if (seen.has(item.eventId)) repeats.push(i);
    else {
      seen.add(item.eventId);
      first.push(i);
    }
  });
  const outcomes: ItemOutcome<IngestResult>[] = new Array(items.length);
  const firstItems = first.map((i) => items[i] as PendingEvent);
  let written: ItemOutcome<IngestResult>[];
  try {
    written = await writeBatchOnceMoreIfRaceLost(ctx, lane, orgId, firstItems);
  } catch (error) {
    if (firstItems.length === 1) written = [await singleFailure(ctx, orgId, firstItems[0] as PendingEvent, error)];
    else {
      // Something in the batch broke the transaction (a concurrent writer took an event_id, a database error):
      // write each event alone, so only the one that causes it fails.
      written = [];
      for (const item of firstItems) written.push(...(await ingestBatch(ctx, lane, orgId, [item])));
    }
  }
  first.forEach((index, j) => (outcomes[index] = written[j] as ItemOutcome<IngestResult>));
  if (repeats.length > 0) {
    const again = await ingestBatch(ctx, lane, orgId, repeats.map((i) => items[i] as PendingEvent));
    repeats.forEach((index, j) => (outcomes[index] = again[j] as ItemOutcome<IngestResult>));
  }
  return outcomes;
}

/** A lone event's transaction failed: a concurrent request with its event_id won the race, or a real error. */
async function singleFailure(ctx: AppContext, orgId: string, item: PendingEvent, error: unknown): Promise<ItemOutcome<IngestResult>> {
  if (error instanceof StreamVersionConflictError && item.event.eventId) {
    const existing = await withTenant(ctx.sql, orgId, (tx) => getEvent(tx, item.eventId));
    if (existing) {
      if (existing.request_fingerprint !== item.fingerprint) return { ok: false, error: new IngestError({ kind: "idempotency_conflict" }) };
      return { ok: true, value: { event_id: item.eventId, deliveries_scheduled: existing.deliveries_scheduled, duplicate: true, deprecated: false } };
    }
  }
  return { ok: false, error };
}

/**
 * One lane per organization and process while flushes are short: requests arriving meanwhile wait for the next
 * flush, so each commit carries more events. Measured with 16 clients on the 2-core box (bench scenario 1, same
 * run): 2,007 events/s at 0.61 core-ms per event with one flush in flight, 1,699/s at 0.79 with two, 1,475/s at
 * 1.00 with three on their own connections: every extra flush is another commit and WAL flush for fewer events.
 *
 * The next flush is sent behind the running one on the lane's connection once that has run 1 ms (pipelined,
 * db/connectionLane.ts), so Postgres starts on it when the running one commits rather than ~0.8 ms later, after
 * this process has read the result, answered 8 requests and built the batch. Interleaved quick runs of scenario 1
 * (events/s): 2,450 on average without (2,680, 2,284, 2,360, 2,474), 2,537 with (2,525, 2,722, 2,421, 2,479); an
 * earlier set with one lane only, 2,732 against 3,012. Scenario 2's ratios: F=10 0.67 → 0.80, F=1 0.72 → 0.76,
 * F=100 0.80 → 0.81 (four rounds each; one lane only: F=100 0.78, so the second lane stays). Pipelined flushes come one behind another, never beside: no extra CPU per event.
 *
 * A flush still running after 5 ms is work-bound (wide fan-out: 4 events to 100 subscriptions write 400 delivery
 * rows, ~9 ms), and a second lane then uses the database's other core (scenario 2, F=100: 8,381 deliveries/s with
 * one flush at a time, 12–14k with the second; quick runs read 0.70–0.77× its baseline when the second waited
 * 10 ms, 0.77–0.85× with 5 ms). Latency at rest is unchanged (an event arriving at an idle organization is
 * flushed at once).
 */
const FLUSHES = { maxConcurrentFlushes: 2, extraFlushAfterMs: 5, pipelineAfterMs: 1 };

/** Group commit per context (one per process): tests that build several contexts get one each. */
const batchers = new WeakMap<AppContext, GroupCommit<PendingEvent, IngestResult, ConnectionLane>>();

function batcherOf(ctx: AppContext): GroupCommit<PendingEvent, IngestResult, ConnectionLane> {
  let batcher = batchers.get(ctx);
  if (!batcher) {
    batcher = new GroupCommit((orgId, items, lane) => ingestInParts(ctx, lane, orgId, items), { maxBatch: MAX_BATCH, ...FLUSHES, openLane: () => new ConnectionLane(ctx.sql) });
    batchers.set(ctx, batcher);
  }
  return batcher;
}

/**
 * Accepts one event; resolves after the transaction holding it has committed. `traceparent` is the request span's,
 * when traces are exported: the event's trace continues it. Concurrent calls for the same
 * organization share that transaction.
 *
 * @throws IngestError for the event's own failures, ProblemError (429) when the daily quota is used up or the
 *   organization's schema compiling is (compileBudget.ts).
 */
export async function ingestEvent(ctx: AppContext, orgId: string, event: IncomingEvent, meta: EntryMeta, traceparent?: string): Promise<IngestResult> {
  const item: PendingEvent = { event, meta, eventId: event.eventId ?? newEventId(), fingerprint: requestHash(event), traceparent };
  await checkBeforeTheFlush(ctx, orgId, item);
  return batcherOf(ctx).submit(orgId, item);
}

/**
 * Validates the payload against its event type's schema (as the fan-out memory has it) in the request's own turn
 * of the event loop, before it joins a flush. A flush validated every event of its batch in one synchronous pass:
 * 16 events each near the validation budget held the loop 582 ms (sweep 19). The flush then finds the verdict
 * (schemaViolations), unless the schema changed meanwhile.
 */
async function checkBeforeTheFlush(ctx: AppContext, orgId: string, item: PendingEvent): Promise<void> {
  if (item.event.encoding !== "json") return;
  const fanout = await fanoutCacheOf(ctx).of(orgId, [item.event.appId]);
  const schema = fanout.eventTypes.get(eventTypeKey(item.event.appId, item.event.eventType))?.schema;
  if (schema) schemaViolations(orgId, item, schema, schemaBudgetsOf(ctx.config));
}
