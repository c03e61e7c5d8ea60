/**
 * Consuming a pull queue: dequeue (lease), ack, nack and extend. At-least-once: a lease sets the message's
 * `visible_at` to its expiry, so a consumer that dies simply lets the lease run out and the next dequeue gets
 * the message again, with no sweeper. Every state change is a ledger entry on the message's stream.
 *
 * Why `FOR UPDATE SKIP LOCKED`: concurrent consumers each lock a disjoint set of visible rows instead of queuing
 * behind one another or, worse, leasing the same message twice; the lease entries and the projection update
 * commit with the lock. Why short transactions and sleeping outside them for long polls: a transaction held open
 * while waiting pins a pooled connection per waiting consumer and holds back vacuum.
 */
import { randomUUID } from "node:crypto";
import type { AppContext } from "../context.ts";
import type { Tx } from "../db/connect.ts";
import { withTenant } from "../db/tenant.ts";
import { ANY_VERSION } from "../ledger/append.ts";
import type { NewEntry } from "../ledger/catalogue.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { getPullQueue, messageColumns, type PullMessageRow } from "./pullStore.ts";
import { MAX_PAGE_BODY_BYTES } from "./receiptStore.ts";
import { pullMessageStream } from "./streams.ts";

/** How often a long poll looks again. 250 ms keeps added latency low at a few cheap index probes per second. */
const LONG_POLL_INTERVAL_MS = 250;

export interface DequeueOptions {
  maxMessages: number;
  /** Default: the queue's lease_seconds. */
  leaseSeconds?: number;
  /** Long poll: keep looking this long when the queue is empty. */
  waitSeconds: number;
  /** Ends a long poll early, e.g. when the client disconnects. */
  signal?: AbortSignal;
}

/**
 * Bodies one dequeue answers at most (a first message larger than this comes alone), as a page of receipts: twelve
 * 8 MB messages made one 128 MB answer whose serialisation held the event loop ~1.9 s, and the limits allow
 * 100 × 10 MB. The messages left out stay visible for the next dequeue, their lock gone with this transaction.
 */
const MAX_ANSWER_BODY_BYTES = MAX_PAGE_BODY_BYTES;

function withinAnswerBudget<T extends { body_bytes: number }>(rows: T[]): T[] {
  let total = 0;
  const taken: T[] = [];
  for (const row of rows) {
    total += row.body_bytes;
    if (taken.length > 0 && total > MAX_ANSWER_BODY_BYTES) break;
    taken.push(row);
  }
  return taken;
}

const entriesFor = (messageId: string, entries: NewEntry[]) => ({ stream: pullMessageStream(messageId), expectedStreamVersion: ANY_VERSION, entries });

async function leaseBatch(
  ctx: AppContext,
  orgId: string,
  queue: string,
  options: DequeueOptions,
  meta: EntryMeta,
): Promise<{ messages: PullMessageRow[]; deadLettered: number } | undefined> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    const settings = await getPullQueue(tx, queue);
    if (!settings) return undefined;
    const now = ctx.now();
    const candidates = await tx<{ message_id: string; deliveries: number; body_bytes: number }[]>`
      select m.message_id, m.deliveries, octet_length(r.body)::int as body_bytes
      from hookledger.pull_messages m
      join hookledger.ingress_receipts r on r.org_id = m.org_id and r.receipt_id = m.receipt_id
      where m.org_id = hookledger.current_org_id() and m.queue = ${queue} and m.state <> 'dead' and m.visible_at <= ${now}
      order by m.visible_at, m.message_id
      limit ${options.maxMessages}
      for update of m skip locked`;
    // A message that has had all its deliveries is dead-lettered when it would be handed out once more.
    const exhausted = candidates.filter((row) => row.deliveries >= settings.max_deliveries);
    const leasable = withinAnswerBudget(candidates.filter((row) => row.deliveries < settings.max_deliveries));
    const leaseExpiresAt = new Date(now.getTime() + (options.leaseSeconds ?? settings.lease_seconds) * 1000).toISOString();
    await ctx.ledger.recordMany(tx, [
      ...exhausted.map((row) =>
        entriesFor(row.message_id, [{ type: "pull.message_dead_lettered", data: { message_id: row.message_id, deliveries: row.deliveries }, meta }]),
      ),
      ...leasable.map((row) =>
        entriesFor(row.message_id, [
          { type: "pull.message_leased", data: { message_id: row.message_id, lease_id: randomUUID(), lease_expires_at: leaseExpiresAt, delivery: row.deliveries + 1 }, meta },
        ]),
      ),
    ]);
    if (leasable.length === 0) return { messages: [], deadLettered: exhausted.length };
    const messages = await tx<PullMessageRow[]>`
      select ${tx.unsafe(messageColumns)}
      from hookledger.pull_messages m
      join hookledger.ingress_receipts r on r.org_id = m.org_id and r.receipt_id = m.receipt_id
      where m.org_id = hookledger.current_org_id() and m.message_id in ${tx(leasable.map((row) => row.message_id))}
      order by m.enqueued_at, m.message_id`;
    return { messages, deadLettered: exhausted.length };
  });
}

/**
 * Leases up to `maxMessages` visible messages; `undefined` when the queue does not exist.
 *
 * @example
 * const messages = await dequeue(ctx, orgId, "github", { maxMessages: 10, waitSeconds: 20 }, meta);
 */
export async function dequeue(ctx: AppContext, orgId: string, queue: string, options: DequeueOptions, meta: EntryMeta): Promise<PullMessageRow[] | undefined> {
  const deadline = Date.now() + options.waitSeconds * 1000;
  for (;;) {
    const batch = await leaseBatch(ctx, orgId, queue, options, meta);
    if (!batch) return undefined;
    if (batch.messages.length > 0) return batch.messages;
    // Dead-lettering used up this batch; there may be live messages right behind it.
    if (batch.deadLettered > 0) continue;
    const left = deadline - Date.now();
    if (left <= 0 || options.signal?.aborted) return [];
    await new Promise((resolve) => setTimeout(resolve, Math.min(LONG_POLL_INTERVAL_MS, left)));
  }
}

export type LeaseAction = { kind: "ack" } | { kind: "nack"; delaySeconds: number } | { kind: "extend"; leaseSeconds: number };

export interface SettleResult {
  /** Lease ids the action applied to. */
  done: string[];
  /** Lease ids no longer held: unknown, expired and leased again, already acknowledged, or (for extend) expired. */
  lost: string[];
}

async function heldLeases(tx: Tx, queue: string, leaseIds: string[]): Promise<{ message_id: string; lease_id: string; lease_expires_at: Date }[]> {
  // FOR UPDATE (not SKIP LOCKED): if a dequeue is re-leasing the message right now, wait for it and then see
  // that the lease id changed, rather than acknowledging someone else's delivery.
  return tx<{ message_id: string; lease_id: string; lease_expires_at: Date }[]>`
    select message_id, lease_id, lease_expires_at from hookledger.pull_messages
    where org_id = hookledger.current_org_id() and queue = ${queue} and state = 'leased' and lease_id in ${tx(leaseIds)}
    for update`;
}

/**
 * Acknowledges, negatively acknowledges (visible again after a delay) or extends leases; `undefined` when the
 * queue does not exist. An ack of an expired lease nobody has taken yet still counts: the work was done.
 */
export async function settleLeases(
  ctx: AppContext,
  orgId: string,
  queue: string,
  leaseIds: string[],
  action: LeaseAction,
  meta: EntryMeta,
): Promise<SettleResult | undefined> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    if (!(await getPullQueue(tx, queue))) return undefined;
    const now = ctx.now();
    const unique = [...new Set(leaseIds)];
    const held = (await heldLeases(tx, queue, unique)).filter((row) => action.kind !== "extend" || row.lease_expires_at > now);
    const at = (seconds: number) => new Date(now.getTime() + seconds * 1000).toISOString();
    await ctx.ledger.recordMany(
      tx,
      held.map((row) => {
        const ids = { message_id: row.message_id, lease_id: row.lease_id };
        switch (action.kind) {
          case "ack":
            return entriesFor(row.message_id, [{ type: "pull.message_acked", data: ids, meta }]);
          case "nack":
            return entriesFor(row.message_id, [{ type: "pull.message_nacked", data: { ...ids, visible_at: at(action.delaySeconds) }, meta }]);
          default:
            return entriesFor(row.message_id, [{ type: "pull.lease_extended", data: { ...ids, lease_expires_at: at(action.leaseSeconds) }, meta }]);
        }
      }),
    );
    const done = new Set(held.map((row) => row.lease_id));
    return { done: unique.filter((id) => done.has(id)), lost: unique.filter((id) => !done.has(id)) };
  });
}
