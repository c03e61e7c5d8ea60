/**
 * The audit log: mutations made through the API (entries whose actor is a token), newest first.
 * Filters use the ledger's plain actor and type columns so they run on indexes under row-level security.
 */
import type { Queryable } from "../db/connect.ts";

export interface AuditEntry {
  position: string;
  type: string;
  stream: string;
  recorded_at: Date;
  data: unknown;
  meta: unknown;
}

export async function listAuditEntries(
  tx: Queryable,
  filter: { actorId?: string; type?: string; since?: Date; until?: Date; beforePosition?: string; limit: number },
): Promise<AuditEntry[]> {
  return tx<AuditEntry[]>`
    select l.position::text as position, l.type, l.stream, l.recorded_at, l.data, l.meta
    from hookledger.ledger l
    where l.org_id = hookledger.current_org_id() and actor_kind in ('token', 'instance_admin')
      ${filter.actorId ? tx`and actor_id = ${filter.actorId}` : tx``}
      ${filter.type ? tx`and type = ${filter.type}` : tx``}
      ${filter.since ? tx`and recorded_at >= ${filter.since}` : tx``}
      ${filter.until ? tx`and recorded_at < ${filter.until}` : tx``}
      ${filter.beforePosition ? tx`and l.position < ${filter.beforePosition}::bigint` : tx``}
    order by l.position desc
    limit ${filter.limit + 1}`;
}
