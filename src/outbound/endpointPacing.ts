/**
 * Per-subscription rate limits (`rate_limit_per_second`), shared by every worker process through one row per
 * endpoint holding its next free send slot (hookledger.endpoint_pacing).
 *
 * A batch reserves, in one statement for all its rate-limited endpoints, the slots that fall within the next
 * PACING_WINDOW_MS; those deliveries are sent at their slot time. The rest are not reserved (a reservation for a
 * delivery that then waits in the queue would be a slot nobody uses): they go back to the queue for about when
 * their turn comes, and reserve again then. Nothing is dropped; deliveries are spread out.
 */
import type { Tx } from "../db/connect.ts";

export const PACING_WINDOW_MS = 1000;

/**
 * The lowest rate a subscription may set: one delivery every 100 s. Rates below 1 are allowed (0.5 is 30 a
 * minute); a rate near zero would put its deliveries' slots past any date.
 */
export const MIN_RATE_PER_SECOND = 0.01;

export interface PacingGrant {
  /** First reserved slot. */
  start: Date;
  /** Slots reserved, one every 1/rate seconds from `start`. */
  granted: number;
  rate: number;
}

export async function reserveSlots(tx: Tx, wants: { subscriptionId: string; count: number; rate: number }[]): Promise<Map<string, PacingGrant>> {
  if (wants.length === 0) return new Map();
  const ids = wants.map((want) => want.subscriptionId);
  // A rate stored before MIN_RATE_PER_SECOND was the rule is paced at it.
  const rates = wants.map((want) => Math.max(want.rate, MIN_RATE_PER_SECOND));
  const [, rows] = await Promise.all([
    tx`insert into hookledger.endpoint_pacing (org_id, subscription_id, next_slot_at)
       select hookledger.current_org_id(), id, clock_timestamp() from unnest(${ids}::uuid[]) as id
       on conflict (org_id, subscription_id) do nothing`,
    tx<{ subscription_id: string; start: Date; granted: number }[]>`
      with want as (
        select * from unnest(${ids}::uuid[], ${wants.map((want) => want.count)}::int[], ${rates}::float8[]) as w(id, k, r)
      ), current as (
        select p.subscription_id, greatest(p.next_slot_at, clock_timestamp()) as start, w.k, w.r
        from hookledger.endpoint_pacing p join want w on w.id = p.subscription_id
        where p.org_id = hookledger.current_org_id()
        for update of p
      ), grant_ as (
        select subscription_id, start, r,
          -- The slots start, start + 1/r, ... that fall before the window's end. ceil, not floor: the slot at
          -- start counts, so a rate below 1 still gets its first slot, and 2.5/s gets 3 slots in a second, not 2.
          least(k, greatest(0, ceil(extract(epoch from (clock_timestamp() + ${PACING_WINDOW_MS / 1000} * interval '1 second' - start)) * r)))::int as granted
        from current
      )
      update hookledger.endpoint_pacing p set next_slot_at = g.start + (g.granted / g.r) * interval '1 second'
      from grant_ g
      where p.org_id = hookledger.current_org_id() and p.subscription_id = g.subscription_id
      returning p.subscription_id, g.start, g.granted`,
  ]);
  const rateOf = new Map(wants.map((want, i) => [want.subscriptionId, rates[i] ?? MIN_RATE_PER_SECOND]));
  return new Map(rows.map((row) => [row.subscription_id, { start: row.start, granted: row.granted, rate: rateOf.get(row.subscription_id) ?? 1 }]));
}
