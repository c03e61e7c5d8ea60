/**
 * Every tenant with ledger entries — every organization, and the instance-level tenant (SYSTEM_ORG_ID) — for the
 * commands that walk them one by one (rebuild-projection, seal-subscription-headers, reencrypt), each then working
 * through withTenant. Read as the instance admin: the one cross-tenant read these commands make.
 */
import type { Sql } from "../db/connect.ts";
import { withInstanceAdmin } from "../db/localRole.ts";

export async function tenantsWithEntries(sql: Sql): Promise<string[]> {
  return withInstanceAdmin(sql, async (tx) => {
    const rows = await tx<{ org_id: string }[]>`select distinct org_id from hookledger.ledger_streams order by org_id`;
    return rows.map((row) => row.org_id);
  });
}
