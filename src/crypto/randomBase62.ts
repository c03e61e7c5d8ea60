/**
 * Random strings over [0-9A-Za-z] from a CSPRNG, for tokens and public ids (safe in URLs and for secret scanners).
 * Rejection sampling keeps every character equally likely: 62 × 4 = 248, so bytes at or above 248 are discarded
 * and `byte % 62` has no bias. Each character carries log2(62) ≈ 5.95 bits.
 */
import { randomBytes } from "node:crypto";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const UNBIASED_LIMIT = 248;

/** @example randomBase62(24); // "4fZq0Xk2LmN8pQr1sTuVwXy3" */
export function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= UNBIASED_LIMIT) continue;
      out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}
