/**
 * A subscription's custom headers whose names look like credentials (an API key, a bearer token) are shown as
 * REDACTED: only the answer that creates the subscription shows their values. Sent back as REDACTED, such a value
 * means "keep the stored one", so a read-modify-write of `headers` keeps the key it could not read; before, the
 * placeholder itself was stored and sent to the receiver as the key (sweep 18).
 */
import { isCredentialHeader } from "../http/credentialHeaders.ts";
import { ProblemError } from "../http/problem.ts";
import { headersWithSealedAs, type StoredHeaders } from "./sealedHeaders.ts";

export const REDACTED = "[redacted]";

/**
 * The headers as shown: sealed values, and values of credential-like names (the rule every door uses) kept in clear
 * before sql/087, as REDACTED.
 */
export function redactedHeaders(stored: StoredHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headersWithSealedAs(stored, REDACTED)).map(([name, value]) => [name, isCredentialHeader(name) ? REDACTED : value]));
}

/**
 * `given` with every REDACTED value replaced by the stored one (`stored`: the subscription's headers now, opened, none
 * for a new subscription).
 *
 * @throws ProblemError (400, naming each header) for a REDACTED value with no stored value to stand for.
 */
export function withStoredValues(given: Record<string, string>, stored: Record<string, string>): Record<string, string> {
  const missing = Object.entries(given).filter(([name, value]) => value === REDACTED && stored[name] === undefined);
  if (missing.length > 0) {
    throw new ProblemError("validation", "a header value is the placeholder for a stored value that does not exist", {
      errors: missing.map(([name]) => ({ field: `headers.${name}`, message: `"${REDACTED}" keeps the stored value, and this subscription has no ${name} header; send the value itself` })),
    });
  }
  return Object.fromEntries(Object.entries(given).map(([name, value]) => [name, value === REDACTED ? (stored[name] as string) : value]));
}
