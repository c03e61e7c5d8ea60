/**
 * Reads of the pull_queues and pull_messages projections: queue settings, depth and age, and the dead-letter
 * list. Filters are plain-column equality and ranges (leakproof under row-level security), on indexes that lead
 * with org_id.
 */
import type { Queryable } from "../db/connect.ts";
import { pageWithinBudget } from "../http/pagination.ts";
import { bodyAsBase64, MAX_PAGE_BODY_BYTES } from "./receiptStore.ts";

export interface PullQueueRow {
  queue: string;
  description: string | null;
  max_deliveries: number;
  lease_seconds: number;
  created_at: Date;
  updated_at: Date;
}

export interface PullQueueStats {
  /** Visible now: new, nacked without delay, or whose lease expired. */
  ready: number;
  /** Nacked with a delay that has not passed. */
  delayed: number;
  leased: number;
  dead: number;
  oldest_enqueued_at: Date | null;
}

/** A message with the accepted request it carries, its body as the base64 the answers carry (receiptStore.ts: bodyAsBase64). */
export interface PullMessageRow {
  message_id: string;
  queue: string;
  state: "ready" | "leased" | "dead";
  deliveries: number;
  lease_id: string | null;
  lease_expires_at: Date | null;
  enqueued_at: Date;
  dead_at: Date | null;
  receipt_id: string;
  route_id: string;
  content_type: string | null;
  headers: Record<string, string>;
  body_base64: string;
  received_at: Date;
}

const queueColumns = "queue, description, max_deliveries, lease_seconds, created_at, updated_at";

export const messageColumns = `m.message_id, m.queue, m.state, m.deliveries, m.lease_id, m.lease_expires_at, m.enqueued_at, m.dead_at,
  m.receipt_id, r.route_id, r.content_type, r.headers, ${bodyAsBase64("r.body")} as body_base64, r.received_at`;

export async function getPullQueue(tx: Queryable, queue: string): Promise<PullQueueRow | undefined> {
  const [row] = await tx<PullQueueRow[]>`
    select ${tx.unsafe(queueColumns)} from hookledger.pull_queues where org_id = hookledger.current_org_id() and queue = ${queue}`;
  return row;
}

/** Queues newest first; `only` (a queue-limited token's queues) keeps those alone. */
export async function listPullQueues(tx: Queryable, options: { limit: number; after?: { createdAt: string; id: string }; only?: string[] | null }): Promise<PullQueueRow[]> {
  return tx<PullQueueRow[]>`
    select ${tx.unsafe(queueColumns)} from hookledger.pull_queues
    where org_id = hookledger.current_org_id()
      ${options.only ? tx`and queue = any(${options.only}::text[])` : tx``}
      ${options.after ? tx`and (created_at, queue) < (${options.after.createdAt}::timestamptz, ${options.after.id})` : tx``}
    order by created_at desc, queue desc limit ${options.limit + 1}`;
}

/** Depth and age of queues, from the `pull_queue_stats` view that DBAs read too. */
export async function pullQueueStats(tx: Queryable, queues: string[]): Promise<Map<string, PullQueueStats>> {
  if (queues.length === 0) return new Map();
  const rows = await tx<(PullQueueStats & { queue: string })[]>`
    select queue, ready::int, delayed::int, leased::int, dead::int, oldest_enqueued_at from hookledger.pull_queue_stats
    where org_id = hookledger.current_org_id() and queue in ${tx(queues)}`;
  return new Map(rows.map(({ queue, ...stats }) => [queue, stats]));
}

/**
 * A page of a queue's dead letters, newest first: at most `limit`, and no more than MAX_PAGE_BODY_BYTES of bodies, as
 * a page of receipts (receiptStore.ts: a route may accept 10 MB bodies). `rows` holds one more than the page when
 * there are more; `pageSize` is the page's size. With `excerptBytes`, each body is only its first bytes (the
 * console shows 160 characters: the whole bodies were read for it, ~1 s and ~280 MB per view of 21 bodies of 4 MB).
 */
export async function listDeadLetters(
  tx: Queryable,
  queue: string,
  options: { limit: number; after?: { deadAt: string; id: string }; excerptBytes?: number },
): Promise<{ rows: PullMessageRow[]; pageSize: number }> {
  const body = options.excerptBytes === undefined ? tx`r.body` : tx`substring(r.body from 1 for ${options.excerptBytes}::int)`;
  const rows = await tx<(Omit<PullMessageRow, "body_base64"> & { body_base64: string | null })[]>`
    select message_id, queue, state, deliveries, lease_id, lease_expires_at, enqueued_at, dead_at, receipt_id, route_id, content_type, headers,
           received_at, case when through <= ${MAX_PAGE_BODY_BYTES} or through = octet_length(body) then ${tx.unsafe(bodyAsBase64("body"))} end as body_base64
    from (
      select m.message_id, m.queue, m.state, m.deliveries, m.lease_id, m.lease_expires_at, m.enqueued_at, m.dead_at, m.receipt_id,
             r.route_id, r.content_type, r.headers, r.received_at, ${body} as body,
             sum(octet_length(${body})) over (order by m.dead_at desc, m.message_id desc rows between unbounded preceding and current row) as through
      from hookledger.pull_messages m
      join hookledger.ingress_receipts r on r.org_id = m.org_id and r.receipt_id = m.receipt_id
      where m.org_id = hookledger.current_org_id() and m.queue = ${queue} and m.state = 'dead'
        ${options.after ? tx`and (m.dead_at, m.message_id) < (${options.after.deadAt}::timestamptz, ${options.after.id}::uuid)` : tx``}
      order by m.dead_at desc, m.message_id desc limit ${options.limit + 1}
    ) page
    order by dead_at desc, message_id desc`;
  const cut = pageWithinBudget(rows, (row) => row.body_base64 === null, options.limit);
  return { rows: cut.rows as PullMessageRow[], pageSize: cut.pageSize };
}

/** Ids of dead-lettered messages of a queue, oldest first: all of them, or those of `only` that are dead. */
export async function deadLetterIds(tx: Queryable, queue: string, only: string[] | undefined, limit: number): Promise<string[]> {
  const rows = await tx<{ message_id: string }[]>`
    select message_id from hookledger.pull_messages
    where org_id = hookledger.current_org_id() and queue = ${queue} and state = 'dead'
      ${only ? tx`and message_id in ${tx(only)}` : tx``}
    order by dead_at, message_id limit ${limit}
    for update`;
  return rows.map((row) => row.message_id);
}

/** How many dead letters a queue holds (the partial index of sql/007 on dead messages answers it). */
export async function deadLetterCount(tx: Queryable, queue: string): Promise<number> {
  const [row] = await tx<{ n: number }[]>`
    select count(*)::int as n from hookledger.pull_messages
    where org_id = hookledger.current_org_id() and queue = ${queue} and state = 'dead'`;
  return row?.n ?? 0;
}
