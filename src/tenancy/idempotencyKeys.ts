/**
 * Idempotency keys of `/v1` POSTs (sql/083_idempotency_keys.sql): a request claims its key, keeps its answer once
 * it has one, and a repeat finds that answer. The one module that reads and writes hookledger.idempotency_keys.
 *
 * A key belongs to the organization and the token that sent it: a key is no way to read another token's answer
 * (an application-scoped token must not get an organization token's answer by guessing its key and request).
 * Answers are kept encrypted with the keyring, bound to the organization, token and key: a new token's value or a
 * signing secret in an answer is never stored in the clear.
 */
import type { AppContext } from "../context.ts";
import { decryptSecret, encryptSecret } from "../crypto/encryption.ts";
import type { Keyring } from "../crypto/keyring.ts";
import { addMoves, keyIdSql, noMoves, sampledCensus, REENCRYPTION_BATCH, reencryptSecret, writtenAtSql, type KeyCensus, type MoveCount } from "../crypto/reencryption.ts";
import type { Queryable } from "../db/connect.ts";
import { withTenant } from "../db/tenant.ts";

/** How long a key is remembered, from its first use. */
export const KEY_LIFETIME_MS = 24 * 60 * 60 * 1000;

export interface KeyOwner {
  orgId: string;
  tokenId: string;
  key: string;
}

/** The answer a repeat gets. */
export interface KeptAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type Claim =
  /** The key is this request's: run it, then `keepAnswer` or `releaseKey` with this claim. */
  | { kind: "claimed"; claimId: string }
  /** A request with this key finished with this answer. */
  | { kind: "answered"; answer: KeptAnswer }
  /** A request with this key is running; try again in this many seconds. */
  | { kind: "running"; retryAfterSeconds: number }
  /** The key was used for another request (method, path, query or body differ). */
  | { kind: "other-request" }
  /** The answer was kept under an encryption key this instance's keyring no longer has. */
  | { kind: "unreadable" };

interface KeyRow {
  request_hash: Uint8Array;
  answer: string | null;
}

const associatedData = ({ orgId, tokenId, key }: KeyOwner) => `idempotency:${orgId}:${tokenId}:${key}`;

/**
 * Claims `owner`'s key for a request whose SHA-256 is `requestHash`, for `lockMs` at most, or says what holds it.
 * A key past its 24 hours starts again; a claim past its lock (the process running it died) passes to a repeat of
 * the same request.
 */
export async function claimKey(ctx: AppContext, owner: KeyOwner, requestHash: Uint8Array, lockMs: number): Promise<Claim> {
  const now = ctx.now();
  const lockedUntil = new Date(now.getTime() + lockMs);
  const expiresAt = new Date(now.getTime() + KEY_LIFETIME_MS);
  const claimId = crypto.randomUUID();
  return withTenant(ctx.sql, owner.orgId, async (tx) => {
    const claimed = await tx<{ claim_id: string }[]>`
      insert into hookledger.idempotency_keys as k (org_id, token_id, key, request_hash, claim_id, locked_until, created_at, expires_at)
      values (${owner.orgId}, ${owner.tokenId}, ${owner.key}, ${requestHash}, ${claimId}, ${lockedUntil}, ${now}, ${expiresAt})
      on conflict (org_id, token_id, key) do update
        set request_hash = excluded.request_hash, claim_id = excluded.claim_id, locked_until = excluded.locked_until,
            answer = null, created_at = excluded.created_at, expires_at = excluded.expires_at
        where k.expires_at <= ${now} or (k.locked_until <= ${now} and k.request_hash = excluded.request_hash)
      returning claim_id`;
    if (claimed.length > 0) return { kind: "claimed", claimId };
    const [row] = await tx<KeyRow[]>`
      select request_hash, answer from hookledger.idempotency_keys
      where org_id = ${owner.orgId} and token_id = ${owner.tokenId} and key = ${owner.key}`;
    return row ? claimOf(ctx, owner, row, requestHash) : { kind: "running", retryAfterSeconds: 1 };
  });
}

function claimOf(ctx: AppContext, owner: KeyOwner, row: KeyRow, requestHash: Uint8Array): Claim {
  if (!Buffer.from(row.request_hash).equals(Buffer.from(requestHash))) return { kind: "other-request" };
  // Its lock is how long a dead process's claim is honoured, not how long the request will take: ask again soon.
  if (row.answer === null) return { kind: "running", retryAfterSeconds: 1 };
  try {
    return { kind: "answered", answer: JSON.parse(decryptSecret(row.answer, ctx.keyring, associatedData(owner))) as KeptAnswer };
  } catch {
    return { kind: "unreadable" };
  }
}

/** Keeps `answer` as the key's, if the claim still holds it (a claim that outlived its lock may have passed on). */
export async function keepAnswer(ctx: AppContext, owner: KeyOwner, claimId: string, answer: KeptAnswer): Promise<void> {
  const sealed = encryptSecret(JSON.stringify(answer), ctx.keyring, associatedData(owner));
  await withTenant(ctx.sql, owner.orgId, (tx) => tx`
    update hookledger.idempotency_keys set answer = ${sealed}, claim_id = null, locked_until = null
    where org_id = ${owner.orgId} and token_id = ${owner.tokenId} and key = ${owner.key} and claim_id = ${claimId}`);
}

/** Extends the claim's lock by `lockMs` from now, if the claim still holds the key (its request is running). */
export async function renewClaim(ctx: AppContext, owner: KeyOwner, claimId: string, lockMs: number): Promise<void> {
  const lockedUntil = new Date(ctx.now().getTime() + lockMs);
  await withTenant(ctx.sql, owner.orgId, (tx) => tx`
    update hookledger.idempotency_keys set locked_until = ${lockedUntil}
    where org_id = ${owner.orgId} and token_id = ${owner.tokenId} and key = ${owner.key} and claim_id = ${claimId}`);
}

/** Forgets the key (the request failed, so a repeat runs it again), if the claim still holds it. */
export async function releaseKey(ctx: AppContext, owner: KeyOwner, claimId: string): Promise<void> {
  await withTenant(ctx.sql, owner.orgId, (tx) => tx`
    delete from hookledger.idempotency_keys
    where org_id = ${owner.orgId} and token_id = ${owner.tokenId} and key = ${owner.key} and claim_id = ${claimId}`);
}

/**
 * Moves one organization's kept answers stored under a key other than the keyring's active one to it,
 * REENCRYPTION_BATCH per short transaction. Only keys not yet expired: an expired key's answer is never read again
 * (claimKey starts the key afresh) and the ten-minute sweep deletes it. An answer is written only if it is still
 * the one read, so a key claimed afresh meanwhile keeps its new claim.
 */
export async function reencryptKeptAnswers(ctx: AppContext, orgId: string): Promise<MoveCount> {
  const count = noMoves();
  const now = ctx.now();
  let after = { tokenId: "00000000-0000-0000-0000-000000000000", key: "" };
  for (;;) {
    const batch = await withTenant(ctx.sql, orgId, async (tx) => {
      const rows = await tx<{ token_id: string; key: string; answer: string }[]>`
        select token_id, key, answer from hookledger.idempotency_keys
        where org_id = ${orgId} and (token_id, key) > (${after.tokenId}::uuid, ${after.key}) and answer is not null and expires_at > ${now}
          and ${tx.unsafe(keyIdSql("answer"))} is distinct from ${ctx.keyring.activeKeyId}
        order by token_id, key
        limit ${REENCRYPTION_BATCH}`;
      const results = rows.map((row) => ({ row, result: reencryptSecret(row.answer, ctx.keyring, associatedData({ orgId, tokenId: row.token_id, key: row.key })) }));
      const writes = results.flatMap(({ row, result }) => (result === undefined ? [] : [{ ...row, moved: result }]));
      const updated = writes.length === 0 ? { count: 0 } : await tx`
        update hookledger.idempotency_keys k set answer = w.moved
        from unnest(${writes.map((w) => w.token_id)}::uuid[], ${writes.map((w) => w.key)}::text[],
                    ${writes.map((w) => w.answer)}::text[], ${writes.map((w) => w.moved)}::text[]) as w(token_id, key, read, moved)
        where k.org_id = ${orgId} and k.token_id = w.token_id and k.key = w.key and k.answer = w.read`;
      return { rows, moves: { moved: updated.count, unopened: rows.length - writes.length } };
    });
    addMoves(count, batch.moves);
    const last = batch.rows.at(-1);
    if (last === undefined || batch.rows.length < REENCRYPTION_BATCH) return count;
    after = { tokenId: last.token_id, key: last.key };
  }
}

/** The organization's kept answers of keys not yet expired, counted by the keyring key they are stored under. */
export async function keptAnswerKeyCensus(tx: Queryable, keyring: Keyring, now: Date): Promise<KeyCensus> {
  // Each key id's sample (its earliest answer, with what it is bound to) comes from the same scan.
  const rows = await tx<{ key_id: string | null; n: number; sample: [string, string, string, string, string] }[]>`
    select ${tx.unsafe(keyIdSql("answer"))} as key_id, count(*)::int as n,
           min(array[${tx.unsafe(writtenAtSql("created_at"))}, answer, org_id::text, token_id::text, key]) as sample
    from hookledger.idempotency_keys
    where org_id = hookledger.current_org_id() and answer is not null and expires_at > ${now} group by 1`;
  return sampledCensus(rows, keyring, ([, , orgId, tokenId, key]) => associatedData({ orgId, tokenId, key }));
}
