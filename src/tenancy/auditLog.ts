/**
 * The audit log: mutations made through the API (entries whose actor is a token or the instance admin), newest
 * first. Read from the `hookledger_audit.audit_log` view, so the API shows exactly what a DBA's auditor sees: the
 * ledger's `redacted_data` (no token hashes, message bodies or header values; sql/030), never raw `data`.
 *
 * Application tokens see their own application's entries only. An entry belongs to an application when its stream
 * is one of the application's resources (application, event type, subscription, event, delivery) and the
 * application is the `app_id` of the entry, or, for entries that carry none (subscription.updated,
 * event.replayed…), of its stream's first entry (subscription.created, event.received, delivery.scheduled),
 * which names it. A fanned-out delivery's stream has no such entry (the event's entry scheduled it, sql/070): the
 * delivery entries a token causes (retry requests, cancellations) carry their own `app_id` since then. Everything else (the organization, tokens, ingress routes and
 * receipts, pull queues) is organization-level: organization tokens manage it, and application tokens cannot
 * read it through any other route either.
 *
 * Filters use the ledger's plain actor and type columns so they run on indexes under row-level security.
 */
import type { Queryable } from "../db/connect.ts";
import { pageWithinBudget } from "../http/pagination.ts";

export interface AuditEntry {
  position: string;
  type: string;
  stream: string;
  recorded_at: Date;
  data: unknown;
  actor_kind: string;
  actor_id: string | null;
  actor_label: string | null;
  request_id: string | null;
  ip: string | null;
  user_agent: string | null;
  reason: string | null;
  audit_actor: string | null;
  connection_identity: string | null;
}

/** Stream kinds (`kind:id`) whose entries belong to one application. */
const APPLICATION_STREAM_KINDS = ["application", "event_type", "subscription", "event", "delivery"];

/** Bytes of entry data one page of the audit log holds at most (a first entry larger than that comes alone). */
export const MAX_AUDIT_PAGE_DATA_BYTES = 2 * 1024 * 1024;

/**
 * A page of the audit log, newest first: at most `limit` entries and no more than MAX_AUDIT_PAGE_DATA_BYTES of their
 * data (jsonb's size as the view gives it) — an `event.received` that fans out to 1,000 subscriptions names its
 * 1,000 deliveries (113 KB), and 40 pages of 100 such entries at once held the event loop 291 ms. `rows` holds one
 * entry more than the page when there are more (for its cursor; its data null when past the budget); `pageSize`
 * is the page's size, `limit` or fewer when the data filled it first.
 */
export async function listAuditEntries(
  tx: Queryable,
  filter: { appId: string | null; actorId?: string; type?: string; since?: Date; until?: Date; beforePosition?: string; limit: number },
): Promise<{ rows: AuditEntry[]; pageSize: number }> {
  const rows = await tx<AuditEntry[]>`
    select position, type, stream, recorded_at,
           case when through <= ${MAX_AUDIT_PAGE_DATA_BYTES} or through = size then data end as data,
           actor_kind, actor_id, actor_label, request_id, ip, user_agent, reason, audit_actor, connection_identity
    from (
    select a.position::text as position, a.type, a.stream, a.recorded_at, a.data, pg_column_size(a.data) as size,
           sum(pg_column_size(a.data)) over (order by a.position desc rows between unbounded preceding and current row) as through,
           a.actor_kind, a.actor_id, a.actor_label, a.request_id, a.ip, a.user_agent, a.reason, a.audit_actor, a.connection_identity
    from hookledger_audit.audit_log a
    where a.org_id = hookledger.current_org_id()
      ${filter.actorId ? tx`and a.actor_id = ${filter.actorId}` : tx``}
      ${filter.type ? tx`and a.type = ${filter.type}` : tx``}
      ${filter.since ? tx`and a.recorded_at >= ${filter.since}` : tx``}
      ${filter.until ? tx`and a.recorded_at < ${filter.until}` : tx``}
      ${filter.beforePosition ? tx`and a.position < ${filter.beforePosition}::bigint` : tx``}
      ${filter.appId ? tx`
        and split_part(a.stream, ':', 1) in ${tx(APPLICATION_STREAM_KINDS)}
        and coalesce(a.data ->> 'app_id', (
              select opening.redacted_data ->> 'app_id' from hookledger.ledger opening
              where opening.org_id = a.org_id and opening.stream = a.stream and opening.version = 1)) = ${filter.appId}` : tx``}
    order by a.position desc
    limit ${filter.limit + 1}
    ) page
    order by position::bigint desc`;
  return pageWithinBudget(rows, (row) => row.data === null, filter.limit);
}
