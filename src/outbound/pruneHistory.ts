/**
 * Retention for outbound history of the current tenant: attempts, finished deliveries and events older than the
 * cutoff. Open deliveries (pending, retrying) and the events they need are never removed.
 */
import type { Tx } from "../db/connect.ts";

export interface PrunedHistory {
  attempts: number;
  deliveries: number;
  events: number;
}

export async function pruneDeliveryHistory(tx: Tx, cutoff: Date): Promise<PrunedHistory> {
  const attempts = await tx`delete from hookledger.delivery_attempts where org_id = hookledger.current_org_id() and attempted_at < ${cutoff}`;
  const deliveries = await tx`
    delete from hookledger.deliveries
    where org_id = hookledger.current_org_id() and status in ('succeeded', 'failed', 'cancelled', 'aborted') and coalesce(completed_at, updated_at) < ${cutoff}`;
  const events = await tx`
    delete from hookledger.events e
    where e.org_id = hookledger.current_org_id() and e.received_at < ${cutoff}
      and not exists (select 1 from hookledger.deliveries d where d.org_id = e.org_id and d.event_id = e.event_id)`;
  return { attempts: attempts.count, deliveries: deliveries.count, events: events.count };
}
