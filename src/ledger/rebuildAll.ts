/** The `rebuild-projection` command: rebuilds one projection for every organization that has ledger entries. */
import type { AppContext } from "../context.ts";
import { withInstanceAdmin } from "../db/localRole.ts";

export async function rebuildProjectionForAll(ctx: AppContext, projectionName: string): Promise<{ organizations: number; entries: number }> {
  const orgIds = await withInstanceAdmin(ctx.sql, async (tx) => {
    const rows = await tx<{ org_id: string }[]>`select distinct org_id from hookledger.ledger_streams order by org_id`;
    return rows.map((row) => row.org_id);
  });
  let entries = 0;
  for (const orgId of orgIds) {
    entries += (await ctx.ledger.rebuild(ctx.sql, orgId, projectionName)).entries;
  }
  return { organizations: orgIds.length, entries };
}
