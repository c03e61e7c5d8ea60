/**
 * A subscription's custom headers as stored: values of credential-like names (the rule every door uses) sealed under
 * the keyring in `sealed_headers`, the rest in clear in `headers` (sql/087 describes both maps). The ledger is
 * append-only and read by the service role, DBAs and backups; an `X-Api-Key` kept there in clear was kept there for
 * good. Sealing is AES-256-GCM as for signing secrets (crypto/encryption.ts), bound to the subscription and the header
 * name, so a sealed value copied onto another subscription or name does not open.
 *
 * Which map a value sits in says whether it is sealed, never its text: a value a user sends that happens to look
 * like `v1.<kid>.…` is a value like any other.
 */
import { decryptSecret, encryptedKeyId, encryptSecret } from "../crypto/encryption.ts";
import type { Keyring } from "../crypto/keyring.ts";
import { isCredentialHeader } from "../http/credentialHeaders.ts";

export interface StoredHeaders {
  /** Values in clear: names that are not credential-like (and, on rows written before sql/087, any name). */
  headers: Record<string, string>;
  /** Sealed values of credential-like names. */
  sealed_headers: Record<string, string>;
}

const associatedData = (subscriptionId: string, name: string) => `subscription-header:${subscriptionId}:${name}`;

/** What a subscription's sealed value of header `name` is bound to (for reencrypt's census, which tries one). */
export const sealedHeaderAssociatedData = associatedData;

/**
 * The headers as they are to be stored: credential-like values sealed with the keyring's active key, others in clear.
 *
 * @example
 * sealHeaders(keyring, id, { "x-api-key": "k_live_1", "x-tenant": "acme" });
 * // { headers: { "x-tenant": "acme" }, sealed_headers: { "x-api-key": "v1.k2026.…" } }
 */
export function sealHeaders(keyring: Keyring, subscriptionId: string, values: Record<string, string>): StoredHeaders {
  const stored: StoredHeaders = { headers: {}, sealed_headers: {} };
  for (const [name, value] of Object.entries(values)) {
    if (isCredentialHeader(name)) stored.sealed_headers[name] = encryptSecret(value, keyring, associatedData(subscriptionId, name));
    else stored.headers[name] = value;
  }
  return stored;
}

/**
 * Every custom header with its value, sealed ones opened (or only those named in `only`). Throws `UnknownKeyError`
 * when a value was sealed under a key the keyring no longer holds, `DecryptionError` when it does not authenticate.
 */
export function openHeaders(keyring: Keyring, subscriptionId: string, stored: StoredHeaders, only?: readonly string[]): Record<string, string> {
  const values = { ...stored.headers };
  for (const [name, sealed] of Object.entries(stored.sealed_headers)) {
    if (only === undefined || only.includes(name)) values[name] = decryptSecret(sealed, keyring, associatedData(subscriptionId, name));
  }
  return values;
}

/** The value each custom header has without opening any: sealed ones as `placeholder`. */
export function headersWithSealedAs(stored: StoredHeaders, placeholder: string): Record<string, string> {
  return { ...stored.headers, ...Object.fromEntries(Object.keys(stored.sealed_headers).map((name) => [name, placeholder])) };
}

/** Every custom header's name. */
export function headerNames(stored: StoredHeaders): string[] {
  return [...Object.keys(stored.headers), ...Object.keys(stored.sealed_headers)];
}

/**
 * How many values are stored otherwise than `sealHeaders` would store them now: credential-like values in clear
 * (written before sql/087) and values sealed under a key other than the keyring's active one (a key rotation).
 */
export function valuesToSeal(keyring: Keyring, stored: StoredHeaders): number {
  return (
    Object.keys(stored.headers).filter(isCredentialHeader).length +
    Object.values(stored.sealed_headers).filter((sealed) => encryptedKeyId(sealed) !== keyring.activeKeyId).length
  );
}
