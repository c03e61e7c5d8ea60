/**
 * Cron task: deletes idempotency keys past their 24 hours, across tenants. A key past its expiry is already treated
 * as new by claimKey; this keeps the table from holding every key ever sent.
 */
import type { Task } from "graphile-worker";
import type { AppContext } from "../context.ts";
import { withInstanceAdmin } from "../db/localRole.ts";

export const EXPIRE_IDEMPOTENCY_KEYS_TASK = "expire_idempotency_keys";
/** Every ten minutes; graphile-worker runs each cron slot once across all workers. */
export const EXPIRE_IDEMPOTENCY_KEYS_CRON = `*/10 * * * * ${EXPIRE_IDEMPOTENCY_KEYS_TASK}`;

/** Deletes every expired key (the instance-admin role may delete nothing else: sql/083); returns how many. */
export async function expireIdempotencyKeys(ctx: AppContext): Promise<number> {
  const deleted = await withInstanceAdmin(ctx.sql, (tx) => tx`delete from hookledger.idempotency_keys where expires_at <= now()`);
  return deleted.count;
}

export function expireIdempotencyKeysTask(ctx: AppContext): Task {
  return async () => {
    const deleted = await expireIdempotencyKeys(ctx);
    if (deleted > 0) ctx.log.info("expired idempotency keys deleted", { deleted });
  };
}
