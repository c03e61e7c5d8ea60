/**
 * The `rebuild-projection` command: rebuilds one projection for every tenant that has ledger entries — every
 * organization, and the instance-level tenant (SYSTEM_ORG_ID), whose entries hold e.g. the instance admin tokens.
 * Only organizations are counted as organizations.
 */
import type { AppContext } from "../context.ts";
import { SYSTEM_ORG_ID } from "../db/tenant.ts";
import { tenantsWithEntries } from "./tenants.ts";

export async function rebuildProjectionForAll(ctx: AppContext, projectionName: string): Promise<{ organizations: number; entries: number }> {
  const orgIds = await tenantsWithEntries(ctx.sql);
  let entries = 0;
  for (const orgId of orgIds) {
    entries += (await ctx.ledger.rebuild(ctx.sql, orgId, projectionName)).entries;
  }
  return { organizations: orgIds.filter((orgId) => orgId !== SYSTEM_ORG_ID).length, entries };
}
