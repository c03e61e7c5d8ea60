/**
 * Applications: commands (ledger entries) and reads of the applications projection.
 *
 * Commands that decide on an application's state read it with a row lock in the same statement (see
 * getApplicationForChange), so concurrent commands are decided one after another. Locks are taken parent before
 * child — organization, application, then its subscriptions and event types — so two commands never wait for
 * each other in a circle.
 */
import { randomUUID } from "node:crypto";
import { namesAChange } from "../collections/namesAChange.ts";
import type { Queryable } from "../db/connect.ts";
import { withTenant } from "../db/tenant.ts";
import type { AppContext } from "../context.ts";
import { ANY_VERSION, STREAM_DOES_NOT_EXIST } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { ProblemError } from "../http/problem.ts";
import { getOrganizationForChange } from "./organizations.ts";
import { applicationCount, assertBelowQuota, quotasOf } from "./quotas.ts";

export interface Application {
  id: string;
  /** The caller's own identifier for it, unique among the organization's live applications; null when none. */
  uid: string | null;
  name: string;
  description: string | null;
  metadata: Record<string, string>;
  operational: boolean;
  created_at: Date;
  updated_at: Date;
}

interface ApplicationRow {
  app_id: string;
  uid: string | null;
  name: string;
  description: string | null;
  metadata: Record<string, string>;
  operational: boolean;
  created_at: Date;
  updated_at: Date;
}

const toApplication = (row: ApplicationRow): Application => ({
  id: row.app_id,
  uid: row.uid,
  name: row.name,
  description: row.description,
  metadata: row.metadata,
  operational: row.operational,
  created_at: row.created_at,
  updated_at: row.updated_at,
});

export const applicationStream = (appId: string) => `application:${appId}`;

const applicationColumns = "app_id, uid, name, description, metadata, operational, created_at, updated_at";

export async function getApplication(tx: Queryable, appId: string): Promise<Application | undefined> {
  const [row] = await tx<ApplicationRow[]>`
    select ${tx.unsafe(applicationColumns)} from hookledger.applications
    where org_id = hookledger.current_org_id() and app_id = ${appId} and deleted_at is null`;
  return row ? toApplication(row) : undefined;
}

/**
 * A live application, read and locked against other changes until the transaction ends: commands on it (update,
 * delete) and commands whose decision depends on it (creating a subscription or event type under it, with the
 * subscription quota counted after the lock) run one after another, and one that waited for a delete finds the
 * application gone.
 */
export async function getApplicationForChange(tx: Queryable, appId: string): Promise<Application | undefined> {
  const [row] = await tx<ApplicationRow[]>`
    select ${tx.unsafe(applicationColumns)} from hookledger.applications
    where org_id = hookledger.current_org_id() and app_id = ${appId} and deleted_at is null
    for no key update`;
  return row ? toApplication(row) : undefined;
}

/**
 * Whether the application is live, keeping it so until the transaction ends (a share lock: it may not be changed
 * or deleted meanwhile, while other commands keeping it run alongside). For commands that only need their
 * application to exist when they commit, e.g. creating an application token.
 */
export async function keepApplication(tx: Queryable, appId: string): Promise<boolean> {
  const rows = await tx`
    select 1 from hookledger.applications
    where org_id = hookledger.current_org_id() and app_id = ${appId} and deleted_at is null
    for share`;
  return rows.length > 0;
}

/**
 * Locks the live subscriptions and event types of an application about to be deleted, in key order, before
 * anything is written. The deletion ends them (the projections react to application.deleted) after it has bumped
 * the organization's fan-out version; a command holding one of them while waiting for that version (a
 * subscription change, a failing delivery's health update) would otherwise deadlock with it.
 */
async function lockChildrenOf(tx: Queryable, appId: string): Promise<void> {
  await Promise.all([
    tx`select 1 from hookledger.subscriptions
       where org_id = hookledger.current_org_id() and app_id = ${appId} and deleted_at is null
       order by subscription_id for no key update`.execute(),
    tx`select 1 from hookledger.event_types
       where org_id = hookledger.current_org_id() and app_id = ${appId} and deleted_at is null
       order by name for no key update`.execute(),
  ]);
}

export async function listApplications(
  tx: Queryable,
  options: { limit: number; after?: { createdAt: string; id: string }; onlyAppId?: string | null },
): Promise<Application[]> {
  const rows = await tx<ApplicationRow[]>`
    select ${tx.unsafe(applicationColumns)} from hookledger.applications
    where org_id = hookledger.current_org_id() and deleted_at is null
      ${options.onlyAppId ? tx`and app_id = ${options.onlyAppId}` : tx``}
      ${options.after ? tx`and (created_at, app_id) < (${options.after.createdAt}::timestamptz, ${options.after.id}::uuid)` : tx``}
    order by created_at desc, app_id desc limit ${options.limit + 1}`;
  return rows.map(toApplication);
}

/** Another live application of the organization has the uid (409 `uid-taken`). */
export class UidTakenError extends Error {
  override readonly name = "UidTakenError";
  constructor(readonly uid: string) {
    super("the uid is in use by another application");
  }
}

const LIVE_UID_INDEX = "applications_live_uid_idx";

/** A violation of the live-uid index (sql/089) as UidTakenError: a PATCH and a create that raced for one uid. */
async function uidChecked<T>(uid: string | null | undefined, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const { code, constraint_name: constraint } = error as { code?: unknown; constraint_name?: unknown };
    if (uid && code === "23505" && constraint === LIVE_UID_INDEX) throw new UidTakenError(uid);
    throw error;
  }
}

async function liveApplicationWithUid(tx: Queryable, uid: string): Promise<Application | undefined> {
  const [row] = await tx<ApplicationRow[]>`
    select ${tx.unsafe(applicationColumns)} from hookledger.applications
    where org_id = hookledger.current_org_id() and uid = ${uid} and deleted_at is null`;
  return row ? toApplication(row) : undefined;
}

export interface ApplicationInput {
  name: string;
  uid: string | null;
  description: string | null;
  metadata: Record<string, string>;
}

/**
 * Creates an application; with `getIfExists`, answers the live application that already has `input.uid` instead
 * (unchanged, nothing recorded). Creates in an organization run one after another (its row is locked before the
 * quota is counted), so concurrent get-or-creates of one uid create it once; the live-uid index decides against a
 * PATCH giving the uid meanwhile.
 *
 * @throws UidTakenError when another live application has the uid (without `getIfExists`).
 */
export async function createApplication(
  ctx: AppContext,
  orgId: string,
  input: ApplicationInput,
  meta: EntryMeta,
  options: { getIfExists?: boolean } = {},
): Promise<{ application: Application; created: boolean }> {
  const attempt = () =>
    uidChecked(input.uid, () =>
      withTenant(ctx.sql, orgId, async (tx) => {
        // The organization's row, taken before counting, makes concurrent creates count one after another.
        if (!(await getOrganizationForChange(tx, orgId))) throw new ProblemError("not-found", "no such organization");
        if (input.uid !== null) {
          const existing = await liveApplicationWithUid(tx, input.uid);
          if (existing && options.getIfExists) return { application: existing, created: false };
          if (existing) throw new UidTakenError(input.uid);
        }
        assertBelowQuota("applications", await applicationCount(tx), (await quotasOf(tx, ctx.config)).applications);
        const appId = randomUUID();
        const { uid, ...rest } = input;
        // No uid, no key: entries of applications without one read as they did before uids.
        await ctx.ledger.record(tx, applicationStream(appId), STREAM_DOES_NOT_EXIST, [
          { type: "application.created", data: { app_id: appId, ...(uid !== null ? { uid } : {}), ...rest }, meta },
        ]);
        return { application: (await getApplication(tx, appId)) as Application, created: true };
      }),
    );
  try {
    return await attempt();
  } catch (error) {
    // A PATCH gave the uid to another application between our check and our insert: that one is the answer now.
    if (error instanceof UidTakenError && options.getIfExists) return attempt();
    throw error;
  }
}

/**
 * 403 `forbidden` for an application token changing its application's uid. The uid is the organization's name for
 * the application (its customer's id, say), which get_if_exists and every route taking a uid trust: a token holder
 * who could set it could claim the uid the organization will give its next customer, and get_if_exists would answer
 * that customer's application with the holder's. Decided before the uid is looked up, so the answer says nothing of
 * other applications' uids.
 */
function uidNotTheTokensToChange(): ProblemError {
  return new ProblemError("forbidden", "an application token cannot change its application's uid", {
    errors: [{ field: "uid", message: "set by an organization token; an application token may send only the uid its application has" }],
  });
}

export async function updateApplication(
  ctx: AppContext,
  orgId: string,
  appId: string,
  changes: { name?: string; uid?: string | null; description?: string | null; metadata?: Record<string, string> },
  meta: EntryMeta,
  options: { uidChangeAllowed: boolean },
): Promise<Application | undefined> {
  return uidChecked(changes.uid, () =>
    withTenant(ctx.sql, orgId, async (tx) => {
      const current = await getApplicationForChange(tx, appId);
      if (!current) return undefined;
      if (changes.uid !== undefined && changes.uid !== current.uid && !options.uidChangeAllowed) throw uidNotTheTokensToChange();
      if (changes.uid !== undefined && changes.uid !== null && changes.uid !== current.uid) {
        if (await liveApplicationWithUid(tx, changes.uid)) throw new UidTakenError(changes.uid);
      }
      if (namesAChange(changes)) await ctx.ledger.record(tx, applicationStream(appId), ANY_VERSION, [{ type: "application.updated", data: { app_id: appId, ...changes }, meta }]);
      return getApplication(tx, appId);
    }),
  );
}

/**
 * Deletes an application. Its application tokens are revoked in the same transaction; its subscriptions stop
 * receiving events and pending deliveries are cancelled (outbound projections react to application.deleted).
 */
export async function deleteApplication(ctx: AppContext, orgId: string, appId: string, meta: EntryMeta): Promise<boolean> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    if (!(await getApplicationForChange(tx, appId))) return false;
    await lockChildrenOf(tx, appId);
    for (const hook of ctx.applicationDeletionHooks) await hook(ctx, tx, orgId, appId, meta);
    await ctx.ledger.record(tx, applicationStream(appId), ANY_VERSION, [{ type: "application.deleted", data: { app_id: appId }, meta }]);
    return true;
  });
}
