/**
 * Encryption at rest for secrets (subscription signing secrets, inbound secrets) with AES-256-GCM.
 *
 * Stored form: `v1.<kid>.<base64url iv>.<base64url ciphertext‖tag>`, with a fresh 96-bit random IV per value.
 * The associated data authenticated with it is `v1.<kid>.` followed by the caller's context string (for example
 * `subscription:<id>`): the format and key id cannot be edited, and a value copied into another row fails to
 * decrypt there instead of silently lending that row someone else's secret.
 *
 * Random 96-bit IVs stay safe for far more than 2^32 encryptions under one key, which we will not approach:
 * secrets are encrypted when created or rotated, not per request.
 */
import { Buffer } from "node:buffer";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { decodeBase64Url } from "./encoding.ts";
import { DecryptionError, UnknownKeyError } from "./errors.ts";
import { KEY_ID_PATTERN, keyFromKeyring, type Keyring } from "./keyring.ts";

export { generateKeyringSpec, parseKeyring, type Keyring } from "./keyring.ts";
export { DecryptionError, InvalidKeyringError, UnknownKeyError } from "./errors.ts";

const FORMAT_VERSION = "v1";
const CIPHER = "aes-256-gcm";
const IV_BYTES = 12;
const TAG_BYTES = 16;

function authenticatedData(keyId: string, associatedData: string): Buffer {
  if (associatedData === "") throw new RangeError("associated data must name what the secret belongs to");
  return Buffer.from(`${FORMAT_VERSION}.${keyId}.${associatedData}`, "utf8");
}

/**
 * Encrypts a secret with the keyring's active key, bound to `associatedData`.
 *
 * @example
 * const stored = encryptSecret(signingSecret, keyring, `subscription:${subscriptionId}`);
 * // "v1.k3f9a01c2.Qm9Xy….hT6w…"
 */
export function encryptSecret(plaintext: string, keyring: Keyring, associatedData: string): string {
  const keyId = keyring.activeKeyId;
  const key = keyFromKeyring(keyring, keyId);
  if (key === undefined) throw new UnknownKeyError(keyId);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(authenticatedData(keyId, associatedData));
  const sealed = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return [FORMAT_VERSION, keyId, iv.toString("base64url"), sealed.toString("base64url")].join(".");
}

/**
 * The key id a stored value was encrypted under, or `undefined` if it is not in our format. Re-encryption after a
 * rotation selects the values whose id is not `keyring.activeKeyId`.
 *
 * @example
 * encryptedKeyId("v1.k3f9a01c2.Qm9Xy….hT6w…"); // "k3f9a01c2"
 */
export function encryptedKeyId(value: string): string | undefined {
  const [version, keyId] = value.split(".");
  return version === FORMAT_VERSION && keyId !== undefined && KEY_ID_PATTERN.test(keyId) ? keyId : undefined;
}

/**
 * Decrypts a value from `encryptSecret` with whichever keyring key it names. Throws `UnknownKeyError` when the
 * keyring lacks that key, and `DecryptionError` when the value is malformed, was altered, or was encrypted for
 * other associated data.
 *
 * @example
 * const signingSecret = decryptSecret(row.secret_ciphertext, keyring, `subscription:${row.id}`);
 */
export function decryptSecret(value: string, keyring: Keyring, associatedData: string): string {
  const parts = value.split(".");
  const [version, keyId, ivText, sealedText] = parts;
  if (parts.length !== 4 || version !== FORMAT_VERSION || keyId === undefined || !KEY_ID_PATTERN.test(keyId)) {
    throw new DecryptionError("not an encrypted secret in the v1 format");
  }
  const key = keyFromKeyring(keyring, keyId);
  if (key === undefined) throw new UnknownKeyError(keyId);
  const iv = decodeBase64Url(ivText ?? "");
  const sealed = decodeBase64Url(sealedText ?? "");
  if (iv?.byteLength !== IV_BYTES || sealed === undefined || sealed.byteLength < TAG_BYTES) {
    throw new DecryptionError("not an encrypted secret in the v1 format");
  }
  const decipher = createDecipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(authenticatedData(keyId, associatedData));
  decipher.setAuthTag(sealed.subarray(sealed.byteLength - TAG_BYTES));
  try {
    const plaintext = Buffer.concat([decipher.update(sealed.subarray(0, sealed.byteLength - TAG_BYTES)), decipher.final()]);
    return plaintext.toString("utf8");
  } catch {
    throw new DecryptionError("the encrypted secret does not authenticate: altered, moved from another record, or another key");
  }
}
