/**
 * HMAC over a message given in parts.
 *
 * Every scheme signs some framing (`id.timestamp.`, `v0:ts:`) followed by the raw body. Feeding the parts one by
 * one avoids copying a body of several megabytes just to prepend a few bytes. Strings are hashed as UTF-8.
 */
import type { Buffer } from "node:buffer";
import { createHash, createHmac } from "node:crypto";

export type HmacAlgorithm = "sha1" | "sha256" | "sha512";
export type MessagePart = string | Uint8Array;

/**
 * The raw HMAC of the concatenated parts.
 *
 * @example
 * hmacOf("sha256", key, [`${id}.${timestamp}.`, body]).toString("base64");
 */
export function hmacOf(algorithm: HmacAlgorithm, key: string | Uint8Array, parts: readonly MessagePart[]): Buffer {
  const hmac = createHmac(algorithm, key);
  for (const part of parts) hmac.update(part);
  return hmac.digest();
}

/**
 * Hex SHA-256 of the concatenated parts: a stable fingerprint of a signed message, for replay keys.
 *
 * @example
 * sha256HexOf([`${timestamp}.`, body]); // "9f86d0…"
 */
export function sha256HexOf(parts: readonly MessagePart[]): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return hash.digest("hex");
}
