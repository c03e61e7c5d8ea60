/**
 * A URL as someone other than its owner may read it: where it points (scheme, host, port, the path's shape), never
 * a credential in it. The rule of sql/094 (hookledger.url_for_audit, what auditors read of endpoint URLs), written
 * with the same regular expressions, and checked against it by test/audit/auditorUrls.test.ts:
 *
 * - userinfo reads `[redacted]@`; a fragment that is not empty `#[redacted]`;
 * - every query value reads `[redacted]` (names kept), and so does a query part without `=`;
 * - a path parameter's value (`;jsessionid=…`) reads `[redacted]`;
 * - every path segment that could be a credential reads `[redacted]`: 16 characters or more (a number of 16 to 20
 *   digits excepted), or 6 or more mixing letters and digits. A segment ends at `/`, `;` and `=`.
 *
 * Shown: a path segment of fewer than 16 characters holding no digit (nothing tells it from a word), a query
 * parameter's name, and the host (it says where the URL points).
 */

const REDACTED = "[redacted]";

/** A path segment (ended by `/`, `;` or `=`) that could be a credential. */
const PATH_SEGMENT = /(?<![^/;=])(?:(?![0-9]{16,20}(?![^/;=]))[^/;=]{16,}|(?=[^/;=]*[A-Za-z])(?=[^/;=]*[0-9])[^/;=]{6,})(?![^/;=])/g;

/** Scheme and authority, path, query, fragment: every string matches (`s`: a fragment may hold a line break). */
const PARTS = /^([A-Za-z][A-Za-z0-9+.-]*:(?:\/\/[^/?#]*)?)?([^?#]*)(\?[^#]*)?(#.*)?$/s;

/**
 * @example
 * redactedUrl("https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX?code=abc#t=1");
 * // "https://hooks.slack.com/services/T0000/B0000/[redacted]?code=[redacted]#[redacted]"
 */
export function redactedUrl(url: string): string {
  const [, origin = "", path = "", query = "", fragment = ""] = PARTS.exec(url) ?? [];
  return (
    origin.replace(/^([^/]*\/\/)[^/]*@/, `$1${REDACTED}@`) +
    path.replace(/=[^/;]*/g, `=${REDACTED}`).replace(PATH_SEGMENT, REDACTED) +
    query.replace(/=[^&;]*/g, `=${REDACTED}`).replace(/([?&;])[^&;=]+(?=[&;]|$)/g, `$1${REDACTED}`) +
    fragment.replace(/^#.+$/s, `#${REDACTED}`)
  );
}
