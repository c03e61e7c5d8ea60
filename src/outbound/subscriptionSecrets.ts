/**
 * Signing secrets of subscriptions, encrypted with AES-256-GCM under the configured keyring. The associated
 * data binds each ciphertext to its subscription and key id, so a ciphertext copied onto another row does not
 * decrypt. The ledger records key ids only.
 */
import { randomBytes } from "node:crypto";
import type { Queryable, Sql } from "../db/connect.ts";
import { withTenant } from "../db/tenant.ts";
import { decryptSecret, encryptSecret } from "../crypto/encryption.ts";
import type { Keyring } from "../crypto/keyring.ts";
import { addMoves, keyIdSql, noMoves, sampledCensus, REENCRYPTION_BATCH, reencryptSecret, writtenAtSql, type KeyCensus, type MoveCount } from "../crypto/reencryption.ts";
import { groupBy } from "../collections/groupBy.ts";

export const newSecretKeyId = () => `key_${randomBytes(6).toString("hex")}`;

const associatedData = (subscriptionId: string, keyId: string) => `subscription:${subscriptionId}:${keyId}`;

export async function storeSecret(
  tx: Queryable,
  keyring: Keyring,
  subscriptionId: string,
  keyId: string,
  secret: string,
  createdAt: Date,
): Promise<void> {
  await tx`insert into hookledger.subscription_secrets (org_id, subscription_id, key_id, ciphertext, created_at)
           values (hookledger.current_org_id(), ${subscriptionId}, ${keyId},
                   ${encryptSecret(secret, keyring, associatedData(subscriptionId, keyId))}, ${createdAt})`;
}

/**
 * Ends the current secret at `at` (the rotation overlap's end) and returns its key id. Secrets still inside an
 * earlier, longer overlap are cut to `at` too: a rotation with a shorter overlap means "stop trusting the old
 * ones by then", e.g. after a leak.
 */
export async function expireCurrentSecrets(tx: Queryable, subscriptionId: string, at: Date): Promise<string | null> {
  const [current] = await tx<{ key_id: string }[]>`
    select key_id from hookledger.subscription_secrets
    where org_id = hookledger.current_org_id() and subscription_id = ${subscriptionId} and expires_at is null`;
  await tx`
    update hookledger.subscription_secrets set expires_at = least(coalesce(expires_at, ${at}), ${at})
    where org_id = hookledger.current_org_id() and subscription_id = ${subscriptionId} and (expires_at is null or expires_at > ${at})`;
  return current?.key_id ?? null;
}

/**
 * Secrets a subscription's deliveries may be signed with at once: its current one and those still in a rotation's
 * overlap. Each adds a signature to every delivery; with rotations unbounded, 1,002 of them held the event loop
 * ~0.7 s per 500 KB delivery, and past ~330 the signature header outgrew what receivers take (16 KB).
 */
export const MAX_SIGNING_SECRETS = 10;

/** How many secrets sign the subscription's deliveries at `now` (read under the subscription's lock). */
export async function signingSecretCount(tx: Queryable, subscriptionId: string, now: Date): Promise<number> {
  const [row] = await tx<{ n: number }[]>`
    select count(*)::int as n from hookledger.subscription_secrets
    where org_id = hookledger.current_org_id() and subscription_id = ${subscriptionId} and (expires_at is null or expires_at > ${now})`;
  return row?.n ?? 0;
}

export interface SigningSecret {
  keyId: string;
  secret: string;
  expiresAt: Date | null;
}

/** Secrets that sign at `now`, newest first: the current one, plus any still inside a rotation overlap. */
export async function signingSecrets(tx: Queryable, keyring: Keyring, subscriptionId: string, now: Date): Promise<SigningSecret[]> {
  return (await signingSecretsOf(tx, keyring, [subscriptionId], now)).get(subscriptionId) ?? [];
}

/** `signingSecrets` for many subscriptions with one statement (a delivery batch spans several endpoints). */
export async function signingSecretsOf(tx: Queryable, keyring: Keyring, subscriptionIds: readonly string[], now: Date): Promise<Map<string, SigningSecret[]>> {
  const rows = await tx<{ subscription_id: string; key_id: string; ciphertext: string; expires_at: Date | null }[]>`
    select subscription_id, key_id, ciphertext, expires_at from hookledger.subscription_secrets
    where org_id = hookledger.current_org_id() and subscription_id = any(${subscriptionIds as string[]}::uuid[])
      and (expires_at is null or expires_at > ${now})
    order by created_at desc`;
  const bySubscription = groupBy(rows, (row) => row.subscription_id);
  return new Map([...bySubscription].map(([subscriptionId, secrets]) => [subscriptionId, secrets.map((row) => decrypted(keyring, subscriptionId, row))]));
}

/** A signing secret as `hookledger.subscriptions_to_attempt` (sql/097) returns it: encrypted, times as text. */
export interface EncryptedSecretJson {
  key_id: string;
  ciphertext: string;
  expires_at: string | null;
}

/** Decrypts one subscription's secrets as a delivery load read them (unexpired, newest first). */
export function decryptSigningSecrets(keyring: Keyring, subscriptionId: string, secrets: readonly EncryptedSecretJson[]): SigningSecret[] {
  return secrets.map((secret) => decrypted(keyring, subscriptionId, { ...secret, expires_at: secret.expires_at === null ? null : new Date(secret.expires_at) }));
}

function decrypted(keyring: Keyring, subscriptionId: string, row: { key_id: string; ciphertext: string; expires_at: Date | null }): SigningSecret {
  return { keyId: row.key_id, secret: decryptSecret(row.ciphertext, keyring, associatedData(subscriptionId, row.key_id)), expiresAt: row.expires_at };
}

/**
 * Moves one organization's signing secrets stored under a key other than the keyring's active one to it, every
 * secret (expired ones too: a leaked old key should open nothing left in the table), REENCRYPTION_BATCH per short
 * transaction. Each batch locks its subscriptions first, in id order, as a rotation locks its subscription before
 * ending secrets: the two never wait on each other's secret rows. A secret is written only if its ciphertext is still
 * the one read, and only its ciphertext, so a rotation meanwhile (a new secret, an overlap cut short) is kept whole.
 * The ledger is not written: it records the secret's own key id and times, which do not change.
 */
export async function reencryptSigningSecrets(sql: Sql, keyring: Keyring, orgId: string): Promise<MoveCount> {
  const count = noMoves();
  let after = { subscriptionId: "00000000-0000-0000-0000-000000000000", keyId: "" };
  for (;;) {
    const batch = await withTenant(sql, orgId, async (tx) => {
      const rows = await tx<{ subscription_id: string; key_id: string; ciphertext: string }[]>`
        select subscription_id, key_id, ciphertext from hookledger.subscription_secrets
        where org_id = hookledger.current_org_id() and (subscription_id, key_id) > (${after.subscriptionId}::uuid, ${after.keyId})
          and ${tx.unsafe(keyIdSql("ciphertext"))} is distinct from ${keyring.activeKeyId}
        order by subscription_id, key_id
        limit ${REENCRYPTION_BATCH}`;
      if (rows.length === 0) return { rows, moves: noMoves() };
      await tx`
        select 1 from hookledger.subscriptions
        where org_id = hookledger.current_org_id() and subscription_id = any(${[...new Set(rows.map((row) => row.subscription_id))]}::uuid[])
        order by subscription_id for no key update`;
      const results = rows.map((row) => ({ row, result: reencryptSecret(row.ciphertext, keyring, associatedData(row.subscription_id, row.key_id)) }));
      const writes = results.flatMap(({ row, result }) => (result === undefined ? [] : [{ ...row, moved: result }]));
      const updated = writes.length === 0 ? { count: 0 } : await tx`
        update hookledger.subscription_secrets s set ciphertext = w.moved
        from unnest(${writes.map((w) => w.subscription_id)}::uuid[], ${writes.map((w) => w.key_id)}::text[],
                    ${writes.map((w) => w.ciphertext)}::text[], ${writes.map((w) => w.moved)}::text[]) as w(subscription_id, key_id, read, moved)
        where s.org_id = hookledger.current_org_id() and s.subscription_id = w.subscription_id and s.key_id = w.key_id and s.ciphertext = w.read`;
      return { rows, moves: { moved: updated.count, unopened: rows.length - writes.length } };
    });
    addMoves(count, batch.moves);
    const last = batch.rows.at(-1);
    if (last === undefined || batch.rows.length < REENCRYPTION_BATCH) return count;
    after = { subscriptionId: last.subscription_id, keyId: last.key_id };
  }
}

/** The organization's signing secrets counted by the keyring key they are stored under. */
export async function signingSecretKeyCensus(tx: Queryable, keyring: Keyring): Promise<KeyCensus> {
  // Each key id's sample (its earliest value, with what it is bound to) comes from the same scan.
  const rows = await tx<{ key_id: string | null; n: number; sample: [string, string, string, string] }[]>`
    select ${tx.unsafe(keyIdSql("ciphertext"))} as key_id, count(*)::int as n,
           min(array[${tx.unsafe(writtenAtSql("created_at"))}, ciphertext, subscription_id::text, key_id]) as sample
    from hookledger.subscription_secrets
    where org_id = hookledger.current_org_id() group by 1`;
  return sampledCensus(rows, keyring, ([, , subscriptionId, secretId]) => associatedData(subscriptionId, secretId));
}
