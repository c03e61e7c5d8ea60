/**
 * Answers that carry a secret shown once: a new API token, a subscription's signing secret (generated or given) and
 * custom header values, a generated ingress secret, a portal link (its URL is a one-time credential).
 *
 * The route that answers one says so, here; `Idempotency-Key` (tenancy/idempotentRequests.ts) then keeps no copy
 * of that answer. A repeat is told the request was done (409) instead of being shown the secret again: otherwise a
 * replay re-revealed it for 24 hours, unaudited, even after the token was revoked or the subscription deleted.
 * Why the route and not a look at the answer's JSON: only the route knows which of its fields is a credential, and a
 * guess from field names would miss the next one.
 */
import type { Context } from "hono";
import type { HttpEnv } from "./env.ts";

/** Marks this request's answer as carrying a secret shown once: it is never kept for a repeat. */
export function answersSecretShownOnce(c: Context<HttpEnv>): void {
  c.set("secretShownOnce", true);
}

/** Whether the route marked its answer with `answersSecretShownOnce`. */
export function answeredSecretShownOnce(c: Context<HttpEnv>): boolean {
  return c.get("secretShownOnce") === true;
}
