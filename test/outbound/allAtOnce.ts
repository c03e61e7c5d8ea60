/**
 * Firing identical requests at one resource at the same time, for tests of how concurrent commands are decided.
 *
 * In one test process the requests would otherwise mostly run one after another. So the test holds a row lock the
 * commands must pass (the resource's ledger stream, or the organization's fan-out version), sends the requests, waits
 * until several are waiting for a lock and a moment more for the rest, then lets them go: every command has made its
 * decision, on the state it read, before any of them commits.
 */
import { eventually } from "../support/app.ts";
import type { TestDatabase } from "../support/database.ts";

export type Hold = { kind: "stream"; orgId: string; stream: string } | { kind: "fanout"; orgId: string };

async function waitingForLocks(db: TestDatabase, n: number): Promise<void> {
  await eventually(async () => {
    const [row] = await db.owner<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
    return (row?.n ?? 0) >= n ? true : undefined;
  }, 15_000, "requests waiting");
}

/**
 * With `first`, that request is sent alone and waits for the held lock before the others are sent: it is then the
 * first in line once the lock is let go (say a DELETE that the others race).
 */
export async function allAtOnce<T>(db: TestDatabase, hold: Hold, requests: () => Promise<T>[], options: { first?: () => Promise<T>; waiting?: number } = {}): Promise<T[]> {
  const held = await db.owner.reserve();
  let answers: Promise<T[]> | undefined;
  try {
    await held`begin`;
    const locked =
      hold.kind === "stream"
        ? await held`select 1 from hookledger.ledger_streams where org_id = ${hold.orgId} and stream = ${hold.stream} for update`
        : await held`select 1 from hookledger.fanout_versions where org_id = ${hold.orgId} for update`;
    if (locked.length !== 1) throw new Error(`nothing to hold: ${JSON.stringify(hold)}`);
    const first = options.first?.();
    if (first) await waitingForLocks(db, 1);
    const rest = Promise.all(requests());
    answers = first ? Promise.all([first, rest]).then(([one, others]) => [one, ...others]) : rest;
    // With `waiting`, every request is known to queue for a lock: wait for all of them, however loaded the machine.
    await waitingForLocks(db, options.waiting ?? (first ? 3 : 2));
    await new Promise((resolve) => setTimeout(resolve, 300));
  } finally {
    await held`rollback`;
    held.release();
  }
  return answers;
}

export const statuses = (answers: { status: number }[]) => answers.map((answer) => answer.status).sort((a, b) => a - b);

/** The entries of one stream, in order. */
export async function streamEntries(db: TestDatabase, orgId: string, stream: string): Promise<string[]> {
  const rows = await db.owner<{ type: string }[]>`select type from hookledger.ledger where org_id = ${orgId} and stream = ${stream} order by version`;
  return rows.map((row) => row.type);
}

/** How many entries of `type` the organization's ledger holds. */
export async function countEntries(db: TestDatabase, orgId: string, type: string): Promise<number> {
  const [row] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger where org_id = ${orgId} and type = ${type}`;
  return row?.n ?? 0;
}
