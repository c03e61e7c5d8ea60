/**
 * Public identifiers of the inbound capability. Route ids appear in URLs given to third parties and are looked up
 * before any tenant is known, so they must not be guessable or enumerable: 24 base62 characters (about 143 bits),
 * drawn by rejection sampling so every character is equally likely.
 */
import { randomBytes } from "node:crypto";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** 62 × 4 = 248: bytes at or above it are discarded, so `byte % 62` has no bias. */
const UNBIASED_LIMIT = 248;

function randomBase62(length: number): string {
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

export const ROUTE_ID_PATTERN = /^rt_[0-9A-Za-z]{24}$/;

/** @example newRouteId(); // "rt_4fZq0Xk2LmN8pQr1sTuVwXy3" */
export const newRouteId = (): string => `rt_${randomBase62(24)}`;

/** Receipt ids double as the outbound event id when a route publishes, so they fit that field's alphabet. */
export const newReceiptId = (): string => `rcpt_${randomBase62(24)}`;

/** Random secret text for routes whose preset takes any text as key (GitHub, Stripe-style, Slack, …). */
export const newRouteSecretValue = (): string => randomBytes(32).toString("base64url");

export const newSecretId = (): string => `sec_${randomBase62(12)}`;
