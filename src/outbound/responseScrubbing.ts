/**
 * What an attempt record keeps of a receiver's answer, without the credentials our request carried. Receivers echo
 * requests back (debug endpoints, framework error pages, gateways that answer 4xx with the request dump), and an
 * attempt's `response_headers` and `response_excerpt` are read by every `events:read` token, the console and the
 * portal, and written to the append-only ledger: a subscription's `Authorization` that its API answers show as
 * `[redacted]` came back in clear there (sweep 20). So, before an attempt is recorded:
 * - every occurrence of a credential value the request carried — a custom header whose name is credential-like
 *   (http/credentialHeaders.ts), and for `Scheme value` forms the value alone — is replaced by `[redacted]` in the
 *   excerpt and in the response's header values, as written and as a JSON string would escape it;
 * - response headers of credential-like names (Set-Cookie, WWW-Authenticate, X-Auth-Token…) keep their name only.
 * Values shorter than MIN_SCRUBBED_LENGTH are not searched for (a value of "1" would blank every digit 1).
 */
import { isCredentialHeader } from "../http/credentialHeaders.ts";
import { REDACTED } from "./headerRedaction.ts";

const MIN_SCRUBBED_LENGTH = 6;

/** The credential strings a request with these custom headers carried, longest first (so none leaves a tail). */
function credentialValues(requestHeaders: Record<string, string>): string[] {
  const values = new Set<string>();
  for (const [name, value] of Object.entries(requestHeaders)) {
    if (!isCredentialHeader(name)) continue;
    for (const candidate of [value, value.replace(/^[A-Za-z][\w.+-]*\s+/, "")]) {
      if (candidate.length < MIN_SCRUBBED_LENGTH) continue;
      values.add(candidate);
      const escaped = JSON.stringify(candidate).slice(1, -1);
      if (escaped !== candidate) values.add(escaped);
    }
  }
  return [...values].sort((a, b) => b.length - a.length);
}

export interface ScrubbedResponse {
  headers: Record<string, string>;
  excerpt: string | null;
}

/**
 * @example
 * scrubResponse({ "x-api-key": "k_live_123456" }, { "set-cookie": "s=1", "x-echo": "k_live_123456" }, '{"key":"k_live_123456"}');
 * // { headers: { "set-cookie": "[redacted]", "x-echo": "[redacted]" }, excerpt: '{"key":"[redacted]"}' }
 */
export function scrubResponse(requestHeaders: Record<string, string>, headers: Record<string, string>, excerpt: string | null): ScrubbedResponse {
  const values = credentialValues(requestHeaders);
  const scrub = (text: string) => values.reduce((scrubbed, value) => (scrubbed.includes(value) ? scrubbed.split(value).join(REDACTED) : scrubbed), text);
  const scrubbedHeaders: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) scrubbedHeaders[name] = isCredentialHeader(name) ? REDACTED : scrub(value);
  return { headers: scrubbedHeaders, excerpt: excerpt === null ? null : scrub(excerpt) };
}
