/**
 * Signing secrets of subscriptions, encrypted with AES-256-GCM under the configured keyring. The associated
 * data binds each ciphertext to its subscription and key id, so a ciphertext copied onto another row does not
 * decrypt. The ledger records key ids only.
 */
import { randomBytes } from "node:crypto";
import type { Queryable } from "../db/connect.ts";
import { decryptSecret, encryptSecret } from "../crypto/encryption.ts";
import type { Keyring } from "../crypto/keyring.ts";

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
  const rows = await tx<SecretRow[]>`
    select subscription_id, key_id, ciphertext, expires_at from hookledger.subscription_secrets
    where org_id = hookledger.current_org_id() and subscription_id = any(${subscriptionIds as string[]}::uuid[])
      and (expires_at is null or expires_at > ${now})
    order by created_at desc`;
  return decryptedBySubscription(rows, keyring, undefined);
}

/**
 * Signing secrets of the subscriptions a batch of deliveries goes to, for those of them in `live` (the others
 * send nothing), in one autocommit statement that sets the tenant itself (sql/068): no transaction.
 */
export async function signingSecretsOfDeliveries(
  sql: Queryable,
  keyring: Keyring,
  orgId: string,
  deliveryIds: readonly string[],
  now: Date,
): Promise<(live: ReadonlySet<string>) => Map<string, SigningSecret[]>> {
  const rows = await sql<SecretRow[]>`
    select subscription_id, key_id, ciphertext, expires_at
    from hookledger.signing_secrets_of_deliveries(${orgId}::uuid, ${deliveryIds as string[]}::uuid[], ${now}::timestamptz)`;
  return (live) => decryptedBySubscription(rows, keyring, live);
}

interface SecretRow {
  subscription_id: string;
  key_id: string;
  ciphertext: string;
  expires_at: Date | null;
}

/** Decrypts rows (newest first) into each subscription's list; only those in `only`, when given. */
function decryptedBySubscription(rows: readonly SecretRow[], keyring: Keyring, only: ReadonlySet<string> | undefined): Map<string, SigningSecret[]> {
  const bySubscription = new Map<string, SigningSecret[]>();
  for (const row of rows) {
    if (only && !only.has(row.subscription_id)) continue;
    const secret = { keyId: row.key_id, secret: decryptSecret(row.ciphertext, keyring, associatedData(row.subscription_id, row.key_id)), expiresAt: row.expires_at };
    bySubscription.set(row.subscription_id, [...(bySubscription.get(row.subscription_id) ?? []), secret]);
  }
  return bySubscription;
}
