/**
 * The keyring that encrypts secrets at rest, parsed from configuration.
 *
 * Spec: comma-separated `kid:base64key` entries, each key 32 bytes (AES-256). The first entry is the active key,
 * used for every new encryption; every entry can decrypt. Rotating is therefore: put a new entry first, restart,
 * re-encrypt what is stored under an older id (`hookledger reencrypt`, compose/reencryption.ts), then drop the old
 * entry.
 *
 * The key bytes live in a module-private WeakMap rather than on the object, so logging, JSON-serialising or
 * inspecting a keyring shows its key ids and nothing else. Parse errors name entries by position and never quote
 * what the operator wrote, because that text is key material.
 */
import { randomBytes } from "node:crypto";
import { decodeBase64, decodeBase64Url } from "./encoding.ts";
import { InvalidKeyringError } from "./errors.ts";

export interface Keyring {
  /** The id of the key new encryptions use (the spec's first entry). */
  readonly activeKeyId: string;
  /** Every id this keyring can decrypt, in spec order. */
  readonly keyIds: readonly string[];
}

export const KEY_BYTES = 32;
/** Key ids are stored in every ciphertext and must not contain its "." separator. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const FORMAT_HINT = "expected kid:base64key[,kid:base64key…] with 32-byte keys";

const keyMaterial = new WeakMap<Keyring, ReadonlyMap<string, Uint8Array>>();

function decodeKey(text: string): Uint8Array | undefined {
  return decodeBase64(text) ?? decodeBase64Url(text);
}

/**
 * Parses a keyring spec; throws `InvalidKeyringError` for an empty spec, an entry without `kid:`, an invalid or
 * repeated key id, a key that is not base64 (standard or url-safe), or a key that is not 32 bytes.
 *
 * @example
 * const keyring = parseKeyring(process.env.HOOKLEDGER_ENCRYPTION_KEYS ?? "");
 * keyring.activeKeyId; // "k2025b"
 */
export function parseKeyring(spec: string): Keyring {
  if (spec.trim() === "") throw new InvalidKeyringError(`the encryption keyring is empty: ${FORMAT_HINT}`);
  const keys = new Map<string, Uint8Array>();
  spec.split(",").forEach((rawEntry, index) => {
    const entry = rawEntry.trim();
    const where = `encryption keyring entry ${index + 1}`;
    const colon = entry.indexOf(":");
    if (colon < 0) throw new InvalidKeyringError(`${where} has no key id: ${FORMAT_HINT}`);
    const keyId = entry.slice(0, colon);
    if (!KEY_ID_PATTERN.test(keyId)) {
      throw new InvalidKeyringError(`${where}: a key id is 1 to 32 characters of A-Z, a-z, 0-9, "_" or "-"`);
    }
    if (keys.has(keyId)) throw new InvalidKeyringError(`${where}: key id "${keyId}" appears twice`);
    const key = decodeKey(entry.slice(colon + 1));
    if (key === undefined) throw new InvalidKeyringError(`${where} (key id "${keyId}"): the key is not valid base64`);
    if (key.byteLength !== KEY_BYTES) {
      throw new InvalidKeyringError(`${where} (key id "${keyId}"): the key must be ${KEY_BYTES} bytes, it has ${key.byteLength}`);
    }
    keys.set(keyId, key);
  });
  const keyIds = [...keys.keys()];
  const keyring: Keyring = Object.freeze({ activeKeyId: keyIds[0] ?? "", keyIds: Object.freeze(keyIds) });
  keyMaterial.set(keyring, keys);
  return keyring;
}

/**
 * The key bytes for an id, or `undefined` if the keyring does not hold it. For `encryption.ts`; nothing else
 * should need key bytes.
 */
export function keyFromKeyring(keyring: Keyring, keyId: string): Uint8Array | undefined {
  return keyMaterial.get(keyring)?.get(keyId);
}

/**
 * A fresh single-entry spec (random key id and key) for an instance's first start.
 *
 * @example
 * generateKeyringSpec(); // "k3f9a01c2:q8Jx…=" — store it in the secret manager, not beside the database
 */
export function generateKeyringSpec(): string {
  return `k${randomBytes(4).toString("hex")}:${randomBytes(KEY_BYTES).toString("base64")}`;
}
