/**
 * Cron task: records `console.session_ended` (reason `expired`) for sessions past their expiry that nobody
 * presented again, so the ledger says when every session ended. A session presented after expiry is ended on the
 * spot by findSession; whichever comes first writes the entry, the other finds the stream moved on.
 */
import type { Task } from "graphile-worker";
import type { AppContext } from "../context.ts";
import { withInstanceAdmin } from "../db/localRole.ts";
import { endSession } from "./sessions.ts";

export const EXPIRE_SESSIONS_TASK = "expire_console_sessions";
/** Every five minutes; graphile-worker runs each cron slot once across all workers. */
export const EXPIRE_SESSIONS_CRON = `*/5 * * * * ${EXPIRE_SESSIONS_TASK}`;
const BATCH = 500;

/** Ends up to BATCH overdue sessions; returns how many it ended. */
export async function expireOverdueSessions(ctx: AppContext): Promise<number> {
  const overdue = await withInstanceAdmin(ctx.sql, (tx) => tx<{ org_id: string; session_id: string }[]>`
    select org_id, session_id from hookledger.console_sessions
    where ended_at is null and expires_at <= ${ctx.now()} order by expires_at limit ${BATCH}`);
  for (const session of overdue) await endSession(ctx, session.org_id, session.session_id, "expired", { actor: { kind: "system" } });
  return overdue.length;
}

export function expireSessionsTask(ctx: AppContext): Task {
  return async () => {
    const ended = await expireOverdueSessions(ctx);
    if (ended > 0) ctx.log.info("console sessions expired", { ended });
  };
}
