/**
 * Public identifiers of the inbound capability. Route ids appear in URLs given to third parties and are looked up
 * before any tenant is known, so they must not be guessable or enumerable: 24 base62 characters (about 143 bits).
 */
import { randomBytes } from "node:crypto";
import { randomBase62 } from "../crypto/randomBase62.ts";

export const ROUTE_ID_PATTERN = /^rt_[0-9A-Za-z]{24}$/;

/** @example newRouteId(); // "rt_4fZq0Xk2LmN8pQr1sTuVwXy3" */
export const newRouteId = (): string => `rt_${randomBase62(24)}`;

/** Receipt ids double as the outbound event id when a route publishes, so they fit that field's alphabet. */
export const newReceiptId = (): string => `rcpt_${randomBase62(24)}`;

/** Random secret text for routes whose preset takes any text as key (GitHub, Stripe-style, Slack, …). */
export const newRouteSecretValue = (): string => randomBytes(32).toString("base64url");

export const newSecretId = (): string => `sec_${randomBase62(12)}`;
