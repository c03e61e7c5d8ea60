/**
 * What must never leave the process in an error report: credentials (bearer tokens, signing secrets, signature
 * headers, cookies) and payload bodies. Applied to every Sentry event, transaction and breadcrumb before sending.
 */
import { redactedUrl } from "./redactedUrl.ts";

// hlp_ and hls_: portal links and console session cookies (console/credentials.ts), which a breadcrumb's URL or a
// message may quote.
const SECRET_PATTERNS = [/hl_(adm|org|app)_[0-9A-Za-z]{8,}/g, /hl[ps]_[0-9A-Za-z_]{8,}/g, /whsec_[A-Za-z0-9+/=]{8,}/g, /Bearer\s+\S+/gi, /postgres(ql)?:\/\/[^\s"']+/gi];
const SENSITIVE_KEY = /authorization|cookie|secret|token|password|signature|api[-_]?key|dsn|payload|body/i;

/** Replaces credential-looking substrings of a string. */
export function scrubText(text: string): string {
  return SECRET_PATTERNS.reduce((out, pattern) => out.replace(pattern, "[redacted]"), text);
}

/** Deep copy with sensitive keys' values and credential-looking strings redacted. */
export function scrubValue(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return scrubText(value);
  if (depth > 8 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item) => scrubValue(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) out[key] = SENSITIVE_KEY.test(key) ? "[redacted]" : scrubValue(inner, depth + 1);
  return out;
}

interface RequestLike {
  data?: unknown;
  query_string?: unknown;
  cookies?: unknown;
  url?: string;
}

/** Scrubs a Sentry event (or transaction): a copy is sent instead of the original. */
export function scrubReport<T extends object>(event: T): T {
  const scrubbed = scrubValue(event) as T & { request?: RequestLike };
  if (scrubbed.request) {
    // Request bodies are webhook payloads and query strings can hold tokens: drop both outright. A path can hold one
    // too (an ingress route's path is its tenant's choice): shown as auditors read URLs (redactedUrl.ts).
    const { data: _data, query_string: _query, cookies: _cookies, ...request } = scrubbed.request;
    scrubbed.request = { ...request, ...(request.url ? { url: redactedUrl(request.url.split(/[?#]/)[0] ?? "") } : {}) };
  }
  return scrubbed;
}
