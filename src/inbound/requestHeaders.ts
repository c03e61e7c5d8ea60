/**
 * Which request headers an accepted webhook keeps in the ledger. The ledger is append-only and readable by
 * auditors, so anything that could authenticate a request is dropped: credentials, cookies, every signature
 * header (a stored signature plus the stored body is a replayable request), and names that look like secrets.
 * Hop-by-hop and framing headers say nothing about the webhook and are dropped too.
 */
import { isCredentialHeader } from "../http/credentialHeaders.ts";
import type { IngressAuth } from "./entries.ts";

const DROPPED = new Set([
  "authorization", "proxy-authorization", "cookie", "set-cookie",
  "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length", "expect",
  // Signature headers of every preset, whatever the route's own preset: a sender may send several.
  "x-hub-signature", "x-hub-signature-256", "stripe-signature", "x-slack-signature", "x-shopify-hmac-sha256",
  "webhook-signature", "svix-signature", "x-hookledger-signature",
]);
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
    // Names that carry a credential by what they say, not only the presets' names: a route's own scheme may use any.
    if (DROPPED.has(name) || isCredentialHeader(name) || name === genericHeader) continue;
    // Content-* headers are kept past the cap: publishing reads Content-Encoding (a compressed body is not published).
    if (kept.length >= MAX_HEADERS && !name.startsWith("content-")) continue;
    kept.push([name, value.length > MAX_VALUE_LENGTH ? value.slice(0, MAX_VALUE_LENGTH) : value]);
  }
  // fromEntries defines each key, so a header named `__proto__` is kept as one (an assignment set a prototype).
  return Object.fromEntries(kept);
}
