/** Applications: commands (ledger entries) and reads of the applications projection. */
import { randomUUID } from "node:crypto";
import type { Queryable } from "../db/connect.ts";
import { withTenant } from "../db/tenant.ts";
import type { AppContext } from "../context.ts";
import { ANY_VERSION, STREAM_DOES_NOT_EXIST } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { applicationCount, assertBelowQuota, quotasOf } from "./quotas.ts";

export interface Application {
  id: string;
  name: string;
  description: string | null;
  metadata: Record<string, string>;
  operational: boolean;
  created_at: Date;
  updated_at: Date;
}

interface ApplicationRow {
  app_id: string;
  name: string;
  description: string | null;
  metadata: Record<string, string>;
  operational: boolean;
  created_at: Date;
  updated_at: Date;
}

const toApplication = (row: ApplicationRow): Application => ({
  id: row.app_id,
  name: row.name,
  description: row.description,
  metadata: row.metadata,
  operational: row.operational,
  created_at: row.created_at,
  updated_at: row.updated_at,
});

export const applicationStream = (appId: string) => `application:${appId}`;

export async function getApplication(tx: Queryable, appId: string): Promise<Application | undefined> {
  const [row] = await tx<ApplicationRow[]>`
    select app_id, name, description, metadata, operational, created_at, updated_at from hookledger.applications
    where org_id = hookledger.current_org_id() and app_id = ${appId} and deleted_at is null`;
  return row ? toApplication(row) : undefined;
}

export async function listApplications(
  tx: Queryable,
  options: { limit: number; after?: { createdAt: string; id: string }; onlyAppId?: string | null },
): Promise<Application[]> {
  const rows = await tx<ApplicationRow[]>`
    select app_id, name, description, metadata, operational, created_at, updated_at from hookledger.applications
    where org_id = hookledger.current_org_id() and deleted_at is null
      ${options.onlyAppId ? tx`and app_id = ${options.onlyAppId}` : tx``}
      ${options.after ? tx`and (created_at, app_id) < (${options.after.createdAt}::timestamptz, ${options.after.id}::uuid)` : tx``}
    order by created_at desc, app_id desc limit ${options.limit + 1}`;
  return rows.map(toApplication);
}

export async function createApplication(
  ctx: AppContext,
  orgId: string,
  input: { name: string; description: string | null; metadata: Record<string, string> },
  meta: EntryMeta,
): Promise<Application> {
  const appId = randomUUID();
  return withTenant(ctx.sql, orgId, async (tx) => {
    assertBelowQuota("applications", await applicationCount(tx), (await quotasOf(tx, ctx.config)).applications);
    await ctx.ledger.record(tx, applicationStream(appId), STREAM_DOES_NOT_EXIST, [
      { type: "application.created", data: { app_id: appId, ...input }, meta },
    ]);
    return (await getApplication(tx, appId)) as Application;
  });
}

export async function updateApplication(
  ctx: AppContext,
  orgId: string,
  appId: string,
  changes: { name?: string; description?: string | null; metadata?: Record<string, string> },
  meta: EntryMeta,
): Promise<Application | undefined> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    if (!(await getApplication(tx, appId))) return undefined;
    await ctx.ledger.record(tx, applicationStream(appId), ANY_VERSION, [{ type: "application.updated", data: { app_id: appId, ...changes }, meta }]);
    return getApplication(tx, appId);
  });
}

/**
 * Deletes an application. Its application tokens are revoked in the same transaction; its subscriptions stop
 * receiving events and pending deliveries are cancelled (outbound projections react to application.deleted).
 */
export async function deleteApplication(ctx: AppContext, orgId: string, appId: string, meta: EntryMeta): Promise<boolean> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    if (!(await getApplication(tx, appId))) return false;
    for (const hook of ctx.applicationDeletionHooks) await hook(ctx, tx, orgId, appId, meta);
    await ctx.ledger.record(tx, applicationStream(appId), ANY_VERSION, [{ type: "application.deleted", data: { app_id: appId }, meta }]);
    return true;
  });
}
