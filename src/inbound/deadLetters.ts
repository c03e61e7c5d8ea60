/**
 * The dead-letter list of a pull queue: replay (back to the queue with a fresh delivery count) and purge (gone
 * from the queue; the ledger keeps every message's history, and the purge entries name who did it and why).
 */
import type { AppContext } from "../context.ts";
import { withTenant } from "../db/tenant.ts";
import { ANY_VERSION } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { deadLetterCount, deadLetterIds, getPullQueue } from "./pullStore.ts";
import { pullMessageStream } from "./streams.ts";

/**
 * Messages one call replays or purges. A larger list takes several calls, each a bounded transaction: one call over
 * a queue of a million dead letters would hold their row locks, and append a million entries, in one transaction for
 * minutes. So a call says what is left (`remaining`), and a client calls again until it is 0, as it would page.
 */
export const DEAD_LETTER_BATCH = 1000;

export interface SettledDeadLetters {
  /** Messages replayed or purged by this call. */
  settled: number;
  /** Dead letters the queue still holds after it: more for a call without ids to act on while above 0. */
  remaining: number;
}

/**
 * Replays or purges dead-lettered messages of a queue — the given ones, or the oldest `DEAD_LETTER_BATCH` — and
 * returns how many, and how many dead letters are left; `undefined` when the queue does not exist. Ids that are
 * not dead letters of this queue are skipped.
 */
export async function settleDeadLetters(
  ctx: AppContext,
  orgId: string,
  queue: string,
  action: "replay" | "purge",
  messageIds: string[] | undefined,
  meta: EntryMeta,
): Promise<SettledDeadLetters | undefined> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    if (!(await getPullQueue(tx, queue))) return undefined;
    const ids = await deadLetterIds(tx, queue, messageIds, DEAD_LETTER_BATCH);
    // Counted once this call's messages are locked, before its entries move them: they are among the dead counted.
    const remaining = (await deadLetterCount(tx, queue)) - ids.length;
    const type = action === "replay" ? "pull.message_replayed" : "pull.message_purged";
    await ctx.ledger.recordMany(
      tx,
      ids.map((id) => ({ stream: pullMessageStream(id), expectedStreamVersion: ANY_VERSION, entries: [{ type, data: { message_id: id }, meta }] })),
    );
    return { settled: ids.length, remaining: Math.max(0, remaining) };
  });
}
