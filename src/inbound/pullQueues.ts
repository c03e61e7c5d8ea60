/**
 * Pull queues: commands. A queue exists explicitly (unlike a topic created on first use) so that a consumer
 * polling a misspelt name gets 404 instead of an empty queue forever, and so another tenant's queue name answers
 * exactly like a name nobody uses.
 */
import { namesAChange } from "../collections/namesAChange.ts";
import type { AppContext } from "../context.ts";
import { withTenant } from "../db/tenant.ts";
import { ANY_VERSION, STREAM_DOES_NOT_EXIST } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { StreamVersionConflictError } from "../ledger/errors.ts";
import { getPullQueue, type PullQueueRow } from "./pullStore.ts";
import { pullQueueStream } from "./streams.ts";

export class PullQueueExistsError extends Error {
  override readonly name = "PullQueueExistsError";
}

export interface PullQueueSettings {
  description: string | null;
  max_deliveries: number;
  lease_seconds: number;
}

export async function createPullQueue(ctx: AppContext, orgId: string, queue: string, settings: PullQueueSettings, meta: EntryMeta): Promise<PullQueueRow> {
  try {
    return await withTenant(ctx.sql, orgId, async (tx) => {
      await ctx.ledger.record(tx, pullQueueStream(queue), STREAM_DOES_NOT_EXIST, [{ type: "pull_queue.created", data: { queue, ...settings }, meta }]);
      return (await getPullQueue(tx, queue)) as PullQueueRow;
    });
  } catch (error) {
    if (error instanceof StreamVersionConflictError) throw new PullQueueExistsError(queue);
    throw error;
  }
}

export async function updatePullQueue(
  ctx: AppContext,
  orgId: string,
  queue: string,
  changes: Partial<PullQueueSettings>,
  meta: EntryMeta,
): Promise<PullQueueRow | undefined> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    if (!(await getPullQueue(tx, queue))) return undefined;
    if (namesAChange(changes)) await ctx.ledger.record(tx, pullQueueStream(queue), ANY_VERSION, [{ type: "pull_queue.updated", data: { queue, ...changes }, meta }]);
    return getPullQueue(tx, queue);
  });
}
