/** Organizations: commands (ledger entries) and reads of the organizations projection. */
import { randomUUID } from "node:crypto";
import { namesAChange } from "../collections/namesAChange.ts";
import type { Queryable } from "../db/connect.ts";
import { withInstanceAdmin } from "../db/localRole.ts";
import { withTenant } from "../db/tenant.ts";
import type { AppContext } from "../context.ts";
import { ANY_VERSION, STREAM_DOES_NOT_EXIST } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";

export interface Organization {
  id: string;
  name: string;
  metadata: Record<string, string>;
  /** Days of history kept; null = the instance default. */
  retention_days: number | null;
  /** Quota overrides (missing keys use the instance defaults). */
  quotas: Record<string, number>;
  created_at: Date;
  updated_at: Date;
}

/** The table's row: the organization with its id under the column name. */
type OrganizationRow = Omit<Organization, "id"> & { org_id: string };

const toOrganization = (row: OrganizationRow): Organization => ({
  id: row.org_id,
  name: row.name,
  metadata: row.metadata,
  retention_days: row.retention_days,
  quotas: row.quotas,
  created_at: row.created_at,
  updated_at: row.updated_at,
});

export const organizationStream = (orgId: string) => `organization:${orgId}`;

const organizationColumns = "org_id, name, metadata, retention_days, quotas, created_at, updated_at";

export async function getOrganization(tx: Queryable, orgId: string): Promise<Organization | undefined> {
  const [row] = await tx<OrganizationRow[]>`
    select ${tx.unsafe(organizationColumns)} from hookledger.organizations
    where org_id = ${orgId} and deleted_at is null`;
  return row ? toOrganization(row) : undefined;
}

/**
 * A live organization, read and locked against other changes until the transaction ends. Its own commands (update,
 * delete) and the count of its applications before one is created take it, so concurrent ones are decided one
 * after another and one that waited for a delete finds the organization gone. It is the first lock of any command
 * that takes several (organization, then application, then the application's subscriptions and event types).
 */
export async function getOrganizationForChange(tx: Queryable, orgId: string): Promise<Organization | undefined> {
  const [row] = await tx<OrganizationRow[]>`
    select ${tx.unsafe(organizationColumns)} from hookledger.organizations
    where org_id = ${orgId} and deleted_at is null
    for no key update`;
  return row ? toOrganization(row) : undefined;
}

/**
 * Whether the organization is live, keeping it so until the transaction ends (a share lock: it may not be deleted
 * meanwhile, while other commands keeping it run alongside). For creating a token, which a concurrent deletion
 * would otherwise miss when it revokes every token of the organization.
 */
export async function keepOrganization(tx: Queryable, orgId: string): Promise<boolean> {
  const rows = await tx`select 1 from hookledger.organizations where org_id = ${orgId} and deleted_at is null for share`;
  return rows.length > 0;
}

/** Every organization (instance admin), newest first. */
export async function listAllOrganizations(
  ctx: AppContext,
  options: { limit: number; after?: { createdAt: string; id: string } },
): Promise<Organization[]> {
  return withInstanceAdmin(ctx.sql, async (tx) => {
    const rows = await tx<OrganizationRow[]>`
      select org_id, name, metadata, retention_days, quotas, created_at, updated_at from hookledger.organizations
      where deleted_at is null
        ${options.after ? tx`and (created_at, org_id) < (${options.after.createdAt}::timestamptz, ${options.after.id}::uuid)` : tx``}
      order by created_at desc, org_id desc limit ${options.limit + 1}`;
    return rows.map(toOrganization);
  });
}

export async function createOrganization(
  ctx: AppContext,
  input: { name: string; metadata: Record<string, string> },
  meta: EntryMeta,
): Promise<Organization> {
  const orgId = randomUUID();
  return withTenant(ctx.sql, orgId, async (tx) => {
    await ctx.ledger.record(tx, organizationStream(orgId), STREAM_DOES_NOT_EXIST, [
      { type: "organization.created", data: { org_id: orgId, ...input }, meta },
    ]);
    return (await getOrganization(tx, orgId)) as Organization;
  });
}

export async function updateOrganization(
  ctx: AppContext,
  orgId: string,
  changes: { name?: string; metadata?: Record<string, string>; retention_days?: number | null; quotas?: Record<string, number> },
  meta: EntryMeta,
): Promise<Organization | undefined> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    if (!(await getOrganizationForChange(tx, orgId))) return undefined;
    if (namesAChange(changes)) await ctx.ledger.record(tx, organizationStream(orgId), ANY_VERSION, [{ type: "organization.updated", data: { org_id: orgId, ...changes }, meta }]);
    return getOrganization(tx, orgId);
  });
}

/** Deletes an organization: its tokens are revoked and its applications deleted (see tenancy projections). */
export async function deleteOrganization(ctx: AppContext, orgId: string, meta: EntryMeta): Promise<boolean> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    if (!(await getOrganizationForChange(tx, orgId))) return false;
    // The deletion ends every application (tenancy projections) after bumping the fan-out version: take their rows
    // first, in key order, so a command holding one and waiting for that version cannot deadlock with it.
    await tx`select 1 from hookledger.applications where org_id = hookledger.current_org_id() and deleted_at is null order by app_id for no key update`;
    await ctx.ledger.record(tx, organizationStream(orgId), ANY_VERSION, [{ type: "organization.deleted", data: { org_id: orgId }, meta }]);
    return true;
  });
}
