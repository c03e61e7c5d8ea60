/**
 * Reads of the events, deliveries and delivery_attempts projections: what the deliver task needs and what users
 * query as history. Filters are plain-column equality and ranges (leakproof under row-level security), each
 * backed by an index that leads with org_id.
 */
import type { Queryable } from "../db/connect.ts";
import { pageWithinBudget } from "../http/pagination.ts";

export interface EventRow {
  event_id: string;
  app_id: string;
  event_type: string;
  content_type: string;
  payload_encoding: "json" | "text" | "base64";
  payload: string;
  payload_sha256: string;
  request_fingerprint: string;
  labels: Record<string, string>;
  /** null when the producer gave none. */
  channels: string[] | null;
  occurred_at: Date;
  received_at: Date;
  deliveries_scheduled: number;
}

/** An event as the deliver path loads it (sql/068, sql/072): sending does not read its channels. */
export type EventToDeliver = Omit<EventRow, "channels">;

export const DELIVERY_STATUSES = ["pending", "retrying", "succeeded", "failed", "cancelled", "aborted"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface DeliveryRow {
  delivery_id: string;
  event_id: string;
  subscription_id: string;
  app_id: string;
  status: DeliveryStatus;
  reason: string;
  attempts: number;
  next_attempt_at: Date | null;
  last_attempt_at: Date | null;
  last_status_code: number | null;
  last_error_class: string | null;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

export interface AttemptRow {
  attempt_id: string;
  delivery_id: string;
  event_id: string;
  subscription_id: string;
  attempt_number: number;
  outcome: "succeeded" | "failed" | "aborted";
  status_code: number | null;
  error_class: string | null;
  error_message: string | null;
  duration_ms: number;
  response_headers: Record<string, string>;
  response_excerpt: string | null;
  attempted_at: Date;
  next_attempt_at: Date | null;
}

const eventColumns = `event_id, app_id, event_type, content_type, payload_encoding, payload, payload_sha256, request_fingerprint, labels, channels, occurred_at,
  received_at, deliveries_scheduled`;
const deliveryColumns = `delivery_id, event_id, subscription_id, app_id, status, reason, attempts, next_attempt_at, last_attempt_at,
  last_status_code, last_error_class, created_at, updated_at, completed_at`;
const attemptColumns = `attempt_id, delivery_id, event_id, subscription_id, attempt_number, outcome, status_code, error_class,
  error_message, duration_ms, response_headers, response_excerpt, attempted_at, next_attempt_at`;

export async function getEvent(tx: Queryable, eventId: string): Promise<EventRow | undefined> {
  const [row] = await tx<EventRow[]>`select ${tx.unsafe(eventColumns)} from hookledger.events
    where org_id = hookledger.current_org_id() and event_id = ${eventId}`;
  return row;
}

export interface EventFilter {
  appId?: string | null;
  eventType?: string;
  since?: Date;
  until?: Date;
  deliveryStatus?: DeliveryStatus;
  /** The event's labels must contain this one. */
  label?: { key: string; value: string };
  /** The event carries this channel. */
  channel?: string | undefined;
  after?: { receivedAt: string; id: string };
  limit: number;
}

/** Payload bytes one page of events holds at most (a first event larger than that comes alone). */
export const MAX_PAGE_PAYLOAD_BYTES = 8 * 1024 * 1024;

/**
 * The WHERE clause of a page of events (the organization's, with the filter's conditions and cursor). With a channel
 * the page is read from events_channels_list_idx (events with channels only), whose predicate `= any` proves (sql/095).
 */
function eventsMatching(tx: Queryable, filter: EventFilter) {
  return tx`where org_id = hookledger.current_org_id()
      ${filter.appId ? tx`and app_id = ${filter.appId}` : tx``}
      ${filter.eventType ? tx`and event_type = ${filter.eventType}` : tx``}
      ${filter.label ? tx`and labels @> ${tx.json({ [filter.label.key]: filter.label.value })}` : tx``}
      ${filter.channel ? tx`and ${filter.channel}::text = any(channels)` : tx``}
      ${filter.since ? tx`and received_at >= ${filter.since}` : tx``}
      ${filter.until ? tx`and received_at < ${filter.until}` : tx``}
      ${filter.deliveryStatus
        ? tx`and exists (select 1 from hookledger.deliveries d where d.org_id = e.org_id and d.event_id = e.event_id and d.status = ${filter.deliveryStatus})`
        : tx``}
      ${filter.after ? tx`and (received_at, event_id) < (${filter.after.receivedAt}::timestamptz, ${filter.after.id})` : tx``}`;
}

/**
 * A page of events, newest first: at most `limit`, and no more than MAX_PAGE_PAYLOAD_BYTES of payloads — 250
 * events of 500 KB made one 125 MB answer that held the event loop 2 s and took ~400 MB. `rows` holds one event more
 * than the page when there are more (for its cursor); `pageSize` is the page's size, `limit` or fewer when the
 * payloads filled it first. Payloads past the page are never read (octet_length reads a stored value's size).
 */
export async function listEvents(tx: Queryable, filter: EventFilter): Promise<{ rows: EventRow[]; pageSize: number }> {
  const rows = await tx<(Omit<EventRow, "payload"> & { payload: string | null })[]>`
    select event_id, app_id, event_type, content_type, payload_encoding,
           case when through <= ${MAX_PAGE_PAYLOAD_BYTES} or through = octet_length(payload) then payload end as payload,
           payload_sha256, request_fingerprint, labels, channels, occurred_at, received_at, deliveries_scheduled
    from (
    select *, sum(octet_length(payload)) over (order by received_at desc, event_id desc rows between unbounded preceding and current row) as through
    from hookledger.events e
    ${eventsMatching(tx, filter)}
    order by received_at desc, event_id desc limit ${filter.limit + 1}
    ) page
    order by received_at desc, event_id desc`;
  const cut = pageWithinBudget(rows, (row) => row.payload === null, filter.limit);
  return { rows: cut.rows as EventRow[], pageSize: cut.pageSize };
}

/** An event without its payload: what a list that shows no payloads reads. */
export type EventSummary = Omit<EventRow, "payload">;

/** A page of events without their payloads (`limit` + 1 rows when more follow): the console's list shows none. */
export async function listEventSummaries(tx: Queryable, filter: EventFilter): Promise<EventSummary[]> {
  return tx<EventSummary[]>`
    select event_id, app_id, event_type, content_type, payload_encoding, payload_sha256, request_fingerprint, labels, channels,
           occurred_at, received_at, deliveries_scheduled
    from hookledger.events e
    ${eventsMatching(tx, filter)}
    order by received_at desc, event_id desc limit ${filter.limit + 1}`;
}

export async function getDelivery(tx: Queryable, deliveryId: string): Promise<DeliveryRow | undefined> {
  const [row] = await tx<DeliveryRow[]>`select ${tx.unsafe(deliveryColumns)} from hookledger.deliveries
    where org_id = hookledger.current_org_id() and delivery_id = ${deliveryId}`;
  return row;
}

/**
 * The delivery, its row locked until the transaction ends: a command that decides on its state (a manual retry)
 * then waits for any other such command on it to commit, and decides on what that one left.
 */
export async function getDeliveryForChange(tx: Queryable, deliveryId: string): Promise<DeliveryRow | undefined> {
  const [row] = await tx<DeliveryRow[]>`select ${tx.unsafe(deliveryColumns)} from hookledger.deliveries
    where org_id = hookledger.current_org_id() and delivery_id = ${deliveryId}
    for no key update`;
  return row;
}

/**
 * An event's deliveries, first scheduled first, `limit + 1` rows from after the cursor's (created_at, delivery_id):
 * each replay adds a delivery per subscription, so an event can have thousands.
 */
export async function deliveriesOfEvent(
  tx: Queryable,
  filter: { eventId: string; after?: { createdAt: string; id: string } | undefined; limit: number },
): Promise<DeliveryRow[]> {
  return tx<DeliveryRow[]>`select ${tx.unsafe(deliveryColumns)} from hookledger.deliveries
    where org_id = hookledger.current_org_id() and event_id = ${filter.eventId}
      ${filter.after ? tx`and (created_at, delivery_id) > (${filter.after.createdAt}::timestamptz, ${filter.after.id}::uuid)` : tx``}
    order by created_at, delivery_id limit ${filter.limit + 1}`;
}

export async function listDeliveriesOfSubscription(
  tx: Queryable,
  filter: { subscriptionId: string; status?: DeliveryStatus; since?: Date; after?: { createdAt: string; id: string }; limit: number },
): Promise<DeliveryRow[]> {
  // `status <> 'succeeded'` is the predicate of the partial index that serves a status filter (sql/067), repeated
  // in literal form: a generic plan cannot prove it from the parameter alone.
  return tx<DeliveryRow[]>`
    select ${tx.unsafe(deliveryColumns)} from hookledger.deliveries
    where org_id = hookledger.current_org_id() and subscription_id = ${filter.subscriptionId}
      ${filter.status ? tx`and status = ${filter.status}` : tx``}
      ${filter.status && filter.status !== "succeeded" ? tx`and status <> 'succeeded'` : tx``}
      ${filter.since ? tx`and created_at >= ${filter.since}` : tx``}
      ${filter.after ? tx`and (created_at, delivery_id) < (${filter.after.createdAt}::timestamptz, ${filter.after.id}::uuid)` : tx``}
    order by created_at desc, delivery_id desc limit ${filter.limit + 1}`;
}

/** How many of a subscription's deliveries created in [since, until) are in each status, and how many in all. */
export type DeliveryCounts = Record<DeliveryStatus, number> & { total: number };

/**
 * Counts a subscription's deliveries created in [since, until) by status: all of them from the subscription
 * index, the unsucceeded by status from the partial index of sql/067 (both index-only where the visibility map
 * allows), succeeded as the difference, so a busy endpoint's millions of successes are never read row by row.
 */
export async function countDeliveriesOfSubscription(tx: Queryable, filter: { subscriptionId: string; since: Date; until: Date }): Promise<DeliveryCounts> {
  // One statement, so both counts see one snapshot (a delivery recorded between two would skew the difference).
  const [row] = await tx<{ total: string; unsucceeded: Partial<Record<DeliveryStatus, number>> }[]>`
    select (select count(*) from hookledger.deliveries
            where org_id = hookledger.current_org_id() and subscription_id = ${filter.subscriptionId}
              and created_at >= ${filter.since} and created_at < ${filter.until}) as total,
           (select coalesce(jsonb_object_agg(status, n), '{}') from (
              select status, count(*) as n from hookledger.deliveries
              where org_id = hookledger.current_org_id() and subscription_id = ${filter.subscriptionId} and status <> 'succeeded'
                and created_at >= ${filter.since} and created_at < ${filter.until}
              group by status) s) as unsucceeded`;
  const counts: DeliveryCounts = { total: Number(row?.total ?? 0), pending: 0, retrying: 0, succeeded: 0, failed: 0, cancelled: 0, aborted: 0 };
  let others = 0;
  for (const status of DELIVERY_STATUSES) {
    const n = row?.unsucceeded[status];
    if (status === "succeeded" || n === undefined) continue;
    counts[status] = n;
    others += n;
  }
  counts.succeeded = counts.total - others;
  return counts;
}

/** Deliveries of a subscription still waiting for an attempt (to cancel when it is deleted or disabled). */
export async function openDeliveries(tx: Queryable, subscriptionId: string): Promise<{ delivery_id: string; app_id: string }[]> {
  return tx<{ delivery_id: string; app_id: string }[]>`
    select delivery_id, app_id from hookledger.deliveries
    where org_id = hookledger.current_org_id() and subscription_id = ${subscriptionId} and status in ('pending', 'retrying')`;
}

/**
 * The subscription a test send (`POST /v1/subscriptions/{id}/test`) was made to, when `eventId` is one; a test's
 * event is for that subscription alone, whatever other subscriptions' filters match.
 */
export async function testedSubscription(tx: Queryable, eventId: string): Promise<string | undefined> {
  const [row] = await tx<{ subscription_id: string }[]>`
    select subscription_id from hookledger.deliveries
    where org_id = hookledger.current_org_id() and event_id = ${eventId} and reason = 'test' limit 1`;
  return row?.subscription_id;
}

/** An event with no delivery to a subscription yet: what replay-missing matches against the subscription's filters. */
export interface EventWithoutDelivery {
  event_id: string;
  event_type: string;
  labels: Record<string, string>;
  channels: string[] | null;
  received_at: Date;
}

/**
 * A page of an application's events received in the window that have no delivery to `subscriptionId`, oldest first,
 * after the keyset `after` (received_at, event_id). Test sends are not among them: each was for the subscription
 * it tested (its ping names that subscription), not something another one missed.
 */
export async function eventsWithoutDelivery(
  tx: Queryable,
  filter: { appId: string; subscriptionId: string; window: RecoverWindow; after?: { receivedAt: Date; eventId: string } | undefined; limit: number },
): Promise<EventWithoutDelivery[]> {
  const { window, after } = filter;
  return tx<EventWithoutDelivery[]>`
    select e.event_id, e.event_type, e.labels, e.channels, e.received_at from hookledger.events e
    where e.org_id = hookledger.current_org_id() and e.app_id = ${filter.appId}
      and e.received_at >= ${window.since} ${window.until ? tx`and e.received_at < ${window.until}` : tx``}
      ${after ? tx`and (e.received_at, e.event_id) > (${after.receivedAt}, ${after.eventId})` : tx``}
      and not exists (select from hookledger.deliveries d
        where d.org_id = e.org_id and d.event_id = e.event_id and (d.subscription_id = ${filter.subscriptionId} or d.reason = 'test'))
    order by e.received_at, e.event_id limit ${filter.limit}`;
}

/** Deliveries created at or after `since` and, with `until`, before it. */
export interface RecoverWindow {
  since: Date;
  until?: Date | undefined;
}

/**
 * What "recover" sends again: the subscription's failed and cancelled deliveries created in the window, their rows
 * locked until the transaction ends (in creation order, so two recovers cannot deadlock). A recover that waited for
 * another one's locks reads the rows that one left: those it re-queued are pending then and no longer match, so
 * each is re-queued once.
 */
/** The subscription's failed or cancelled deliveries created in the window, oldest first, at most `limit`, locked. */
export async function recoverableDeliveries(tx: Queryable, subscriptionId: string, window: RecoverWindow, limit: number): Promise<{ delivery_id: string; app_id: string; attempts: number }[]> {
  return tx<{ delivery_id: string; app_id: string; attempts: number }[]>`
    select delivery_id, app_id, attempts from hookledger.deliveries
    where org_id = hookledger.current_org_id() and subscription_id = ${subscriptionId}
      and status in ('failed', 'cancelled') and created_at >= ${window.since}
      ${window.until ? tx`and created_at < ${window.until}` : tx``}
    order by created_at, delivery_id
    limit ${limit}
    for no key update`;
}

export interface AttemptFilter {
  /** Only attempts to this application's subscriptions (an application token's view). */
  appId?: string;
  subscriptionId?: string;
  eventId?: string;
  deliveryId?: string;
  outcome?: "succeeded" | "failed" | "aborted";
  errorClass?: string;
  since?: Date;
  until?: Date;
  after?: { attemptedAt: string; id: string };
  limit: number;
}

export async function listAttempts(tx: Queryable, filter: AttemptFilter): Promise<AttemptRow[]> {
  // `outcome <> 'succeeded'`: the partial index's predicate in literal form, as for deliveries' status above.
  return tx<AttemptRow[]>`
    select ${tx.unsafe(attemptColumns)} from hookledger.delivery_attempts
    where org_id = hookledger.current_org_id()
      ${filter.appId ? tx`and subscription_id in (select s.subscription_id from hookledger.subscriptions s where s.org_id = hookledger.current_org_id() and s.app_id = ${filter.appId})` : tx``}
      ${filter.subscriptionId ? tx`and subscription_id = ${filter.subscriptionId}` : tx``}
      ${filter.eventId ? tx`and event_id = ${filter.eventId}` : tx``}
      ${filter.deliveryId ? tx`and delivery_id = ${filter.deliveryId}` : tx``}
      ${filter.outcome ? tx`and outcome = ${filter.outcome}` : tx``}
      ${filter.outcome && filter.outcome !== "succeeded" ? tx`and outcome <> 'succeeded'` : tx``}
      ${filter.errorClass ? tx`and error_class = ${filter.errorClass}` : tx``}
      ${filter.since ? tx`and attempted_at >= ${filter.since}` : tx``}
      ${filter.until ? tx`and attempted_at < ${filter.until}` : tx``}
      ${filter.after ? tx`and (attempted_at, attempt_id) < (${filter.after.attemptedAt}::timestamptz, ${filter.after.id}::uuid)` : tx``}
    order by attempted_at desc, attempt_id desc limit ${filter.limit + 1}`;
}

export async function getAttempt(tx: Queryable, attemptId: string): Promise<AttemptRow | undefined> {
  const [row] = await tx<AttemptRow[]>`select ${tx.unsafe(attemptColumns)} from hookledger.delivery_attempts
    where org_id = hookledger.current_org_id() and attempt_id = ${attemptId}`;
  return row;
}
