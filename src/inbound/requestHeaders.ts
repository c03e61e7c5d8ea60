/**
 * Which request headers an accepted webhook keeps in the ledger. The ledger is append-only and readable by
 * auditors, so anything that could authenticate a request is dropped: credentials, cookies, every signature
 * header (a stored signature plus the stored body is a replayable request), and names that look like secrets.
 * Hop-by-hop and framing headers say nothing about the webhook and are dropped too.
 */
import type { IngressAuth } from "./entries.ts";

const DROPPED = new Set([
  "authorization", "proxy-authorization", "cookie", "set-cookie",
  "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length", "expect",
  // Signature headers of every preset, whatever the route's own preset: a sender may send several.
  "x-hub-signature", "x-hub-signature-256", "stripe-signature", "x-slack-signature", "x-shopify-hmac-sha256",
  "webhook-signature", "svix-signature", "x-hookledger-signature",
]);
// Names that carry a credential or a signature by what they say (X-Hmac, X-Acme-Mac, X-Sig, Authentication,
// X-Auth, X-Credential, X-Signing-Key, Private-Key…), not only by the presets' names: a route's own scheme may
// use any header. A key is a name part that is `key`/`keys` or ends in it (X-Key, X-Webhook-Key, X_Api_Key,
// X-ApiKey), not one that merely starts with it (X-Keyboard) nor Keep-Alive; of dropping a harmless header and
// keeping a credential for good in an append-only ledger, the first is the cheap mistake.
const CREDENTIAL_LIKE = /authori[sz]ation|authenticat|cookie|secret|token|passw|credential|signature|signing|private|session|hmac|(^|[-_])(auth|mac|sig|pass|pwd)($|[-_])|keys?($|[-_])/i;
// Idempotency-Key names a request, not a sender: a deduplication id worth keeping, whatever its last part says.
const NOT_A_CREDENTIAL = /^(x-)?idempotency-key$/;

/** Caps that keep one entry small whatever a sender throws at us. */
const MAX_HEADERS = 100;
const MAX_VALUE_LENGTH = 4096;

/**
 * @example
 * headersForLedger(request.headers, route.auth); // { "content-type": "application/json", "x-github-event": "push", … }
 */
export function headersForLedger(headers: Headers, auth: IngressAuth): Record<string, string> {
  const genericHeader = auth.type === "hmac" && typeof auth.generic?.["header"] === "string" ? auth.generic["header"].toLowerCase() : undefined;
  const kept: [string, string][] = [];
  for (const [name, value] of headers) {
    if (DROPPED.has(name) || (CREDENTIAL_LIKE.test(name) && !NOT_A_CREDENTIAL.test(name)) || name === genericHeader) continue;
    // Content-* headers are kept past the cap: publishing reads Content-Encoding (a compressed body is not published).
    if (kept.length >= MAX_HEADERS && !name.startsWith("content-")) continue;
    kept.push([name, value.length > MAX_VALUE_LENGTH ? value.slice(0, MAX_VALUE_LENGTH) : value]);
  }
  // fromEntries defines each key, so a header named `__proto__` is kept as one (an assignment set a prototype).
  return Object.fromEntries(kept);
}
