/**
 * Comparisons whose duration does not depend on where two secrets differ.
 *
 * `timingSafeEqual` from node:crypto throws when lengths differ, and checking lengths first returns early. Both
 * sides are therefore first run through HMAC-SHA256 under a key drawn once per process: the digests always have
 * the same length, their content is unpredictable to a caller, and the work done depends only on the input lengths.
 * The length check afterwards only removes the (negligible) chance of a digest collision.
 */
import { Buffer } from "node:buffer";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

const comparisonKey = randomBytes(32);

function digest(value: string | Uint8Array): Buffer {
  return createHmac("sha256", comparisonKey).update(value).digest();
}

/**
 * Constant-time equality of two byte strings of any lengths.
 *
 * @example
 * timingSafeEqualBytes(expectedDigest, receivedDigest); // true only if both hold the same bytes
 */
export function timingSafeEqualBytes(a: Uint8Array, b: Uint8Array): boolean {
  const same = timingSafeEqual(digest(a), digest(b));
  return same && a.byteLength === b.byteLength;
}

/**
 * Constant-time equality of two strings of any lengths (compared as UTF-8).
 *
 * @example
 * timingSafeEqualStrings(expectedSignature, headerValue); // false for "abc" vs "abcd", without an early exit
 */
export function timingSafeEqualStrings(a: string, b: string): boolean {
  return timingSafeEqualBytes(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
