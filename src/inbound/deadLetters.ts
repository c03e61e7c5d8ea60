/**
 * The dead-letter list of a pull queue: replay (back to the queue with a fresh delivery count) and purge (gone
 * from the queue; the ledger keeps every message's history, and the purge entries name who did it and why).
 */
import type { AppContext } from "../context.ts";
import { withTenant } from "../db/tenant.ts";
import { ANY_VERSION } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { deadLetterIds, getPullQueue } from "./pullStore.ts";
import { pullMessageStream } from "./streams.ts";

/** Messages one call replays or purges; a larger list takes several calls, each a bounded transaction. */
export const DEAD_LETTER_BATCH = 1000;

/**
 * Replays or purges dead-lettered messages of a queue — the given ones, or the oldest `DEAD_LETTER_BATCH` — and
 * returns how many; `undefined` when the queue does not exist. Ids that are not dead letters of this queue are
 * skipped.
 */
export async function settleDeadLetters(
  ctx: AppContext,
  orgId: string,
  queue: string,
  action: "replay" | "purge",
  messageIds: string[] | undefined,
  meta: EntryMeta,
): Promise<number | undefined> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    if (!(await getPullQueue(tx, queue))) return undefined;
    const ids = await deadLetterIds(tx, queue, messageIds, DEAD_LETTER_BATCH);
    const type = action === "replay" ? "pull.message_replayed" : "pull.message_purged";
    await ctx.ledger.recordMany(
      tx,
      ids.map((id) => ({ stream: pullMessageStream(id), expectedStreamVersion: ANY_VERSION, entries: [{ type, data: { message_id: id }, meta }] })),
    );
    return ids.length;
  });
}
