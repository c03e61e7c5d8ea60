/**
 * The replay guard: a nonce (message id, or timestamp + digest of the signed content; see the verifiers) may be
 * accepted once per route while a replay of it could still pass the timestamp check.
 *
 * It runs in the transaction that records the webhook, so a request that fails to record does not burn its
 * nonce, and two copies arriving together serialise on the primary key: the second waits for the first to
 * commit, then finds the nonce taken. Only a SHA-256 of the nonce is kept: fixed size whatever the sender sent.
 *
 * Purging is a bounded delete of this route's expired nonces on every insert: the index on
 * (org_id, route_id, expires_at) makes it a short range scan, and a route that receives nothing has nothing to
 * purge. SKIP LOCKED lets concurrent requests of one route purge different rows instead of waiting on (or
 * deadlocking over) the same ones. An expired nonce met again before the purge reached it is simply taken over.
 */
import { createHash } from "node:crypto";
import type { Tx } from "../db/connect.ts";

/** Expired nonces removed per accepted request: more than arrive per request, so the table cannot grow. */
export const PURGE_BATCH = 20;

/**
 * Remembers each receipt's nonce until its `expiresAt`, with one insert and one purge for the batch; answers, per
 * nonce, false when it is already remembered and not yet expired (a replay). A nonce repeated inside the batch is a
 * replay of its first occurrence.
 *
 * @example
 * const [fresh] = await rememberNonces(tx, [{ routeId, nonce: verdict.nonce, expiresAt }], now); // false: replayed
 */
/** How a nonce is stored: its SHA-256 (hex), so the table holds no sender-chosen text. */
export const nonceHash = (nonce: string) => createHash("sha256").update(nonce).digest("hex");

/**
 * The order in which a batch claims its nonces: by route, then hash. Claimed in arrival order, two batches holding
 * the same two nonces the other way round could each take one and wait for the other (a deadlock, which Postgres
 * breaks after a second by failing one batch); claimed in one order, the second simply waits for the first.
 */
export function inClaimOrder<T extends { routeId: string; hash: string }>(nonces: T[]): T[] {
  return nonces.toSorted((a, b) => (a.routeId === b.routeId ? compare(a.hash, b.hash) : compare(a.routeId, b.routeId)));
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export async function rememberNonces(tx: Tx, nonces: { routeId: string; nonce: string; expiresAt: Date }[], now: Date): Promise<boolean[]> {
  if (nonces.length === 0) return [];
  const keyed = nonces.map((item) => ({ ...item, hash: nonceHash(item.nonce) }));
  const key = (routeId: string, hash: string) => `${routeId} ${hash}`;
  const firsts = inClaimOrder([...new Map(keyed.map((item) => [key(item.routeId, item.hash), item])).values()]);
  const inserted = await tx<{ route_id: string; nonce_hash: string }[]>`
    insert into hookledger.ingress_nonces as n (org_id, route_id, nonce_hash, expires_at)
    select hookledger.current_org_id(), r.route_id, r.nonce_hash, r.expires_at
    from unnest(${firsts.map((item) => item.routeId)}::text[], ${firsts.map((item) => item.hash)}::text[], ${firsts.map((item) => item.expiresAt.toISOString())}::timestamptz[])
      as r(route_id, nonce_hash, expires_at)
    on conflict (org_id, route_id, nonce_hash) do update set expires_at = excluded.expires_at
      where n.expires_at <= ${now}
    returning n.route_id, n.nonce_hash`;
  const accepted = new Set(inserted.map((row) => key(row.route_id, row.nonce_hash)));
  const routes = [...new Set(firsts.map((item) => item.routeId))];
  if (accepted.size > 0) {
    await tx`
      delete from hookledger.ingress_nonces
      where ctid in (
        select ctid from hookledger.ingress_nonces
        where org_id = hookledger.current_org_id() and route_id = any(${routes}::text[]) and expires_at <= ${now}
        limit ${PURGE_BATCH * accepted.size} for update skip locked)`;
  }
  const claimed = new Set<string>();
  return keyed.map((item) => {
    const k = key(item.routeId, item.hash);
    if (!accepted.has(k) || claimed.has(k)) return false;
    claimed.add(k);
    return true;
  });
}
