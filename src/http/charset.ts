/**
 * The charset a request declares for its body. Every door that reads a body as text reads UTF-8 only (JSON on `/v1`
 * and the portal's API, forms on the console and the portal), so a body declared in another charset is refused
 * before it is read: `charset=iso-8859-1` or `charset=utf-16` was read as UTF-8, and its text was not the text the
 * client meant. `POST /in/…` stores bytes as they came and never asks.
 */
import type { Context } from "hono";
import { ProblemError } from "./problem.ts";

const CHARSET_PARAMETER = /;\s*charset\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)/gi;

/** The spellings of UTF-8 taken: the Encoding Standard's label `utf8` beside the registered name, in any case. */
const UTF8_NAMES = new Set(["utf-8", "utf8"]);

/**
 * The values of a media type's `charset` parameters, unquoted (RFC 9110 §5.6.6: a token or a quoted string).
 *
 * @example
 * declaredCharsets('application/json; charset="UTF-8"'); // ["UTF-8"]
 */
export function declaredCharsets(type: string): string[] {
  return [...type.matchAll(CHARSET_PARAMETER)].map(([, value = ""]) => (value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, "$1") : value));
}

/**
 * Refuses (415 `unsupported-media-type`, naming `header.Content-Type`) a request whose Content-Type declares a charset
 * other than UTF-8, an empty one included; none means UTF-8. Call it before the body is read. `bodies` says what
 * the door reads, for the message: "JSON bodies", "forms".
 */
export function requireUtf8Charset(c: Context, bodies: string): void {
  const other = declaredCharsets(c.req.header("content-type") ?? "").find((charset) => !UTF8_NAMES.has(charset.toLowerCase()));
  if (other === undefined) return;
  throw new ProblemError("unsupported-media-type", `send ${bodies} in UTF-8: with no charset parameter, or charset=utf-8`, {
    errors: [{ field: "header.Content-Type", message: `charset "${other.slice(0, 100)}" is not supported; ${bodies} are read as UTF-8` }],
  });
}
