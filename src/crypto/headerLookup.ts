/**
 * Case-insensitive header reads over either a Fetch `Headers` object or a plain record.
 *
 * HTTP header names are case-insensitive, but plain records (from tests, Node's `IncomingHttpHeaders`, or stored
 * delivery headers) keep whatever case they were written in. Schemes that sign header values must find
 * `X-Request-Id` when asked for `x-request-id`, on both the signing and the verifying side.
 */

/** A `Headers` object, or a record whose keys may be in any case. Arrays are joined like `Headers#get` does. */
export type HeaderSource = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

function isHeadersObject(headers: HeaderSource): headers is Headers {
  return typeof (headers as { get?: unknown }).get === "function";
}

/**
 * The value of a header, or `undefined` when it is absent. Leading and trailing whitespace is removed, as an HTTP
 * parser does before a receiver sees the value.
 *
 * @example
 * readHeader({ "X-Hub-Signature-256": "sha256=ab" }, "x-hub-signature-256"); // "sha256=ab"
 * readHeader(request.headers, "stripe-signature");
 */
export function readHeader(headers: HeaderSource, name: string): string | undefined {
  if (isHeadersObject(headers)) return headers.get(name)?.trim() ?? undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    return (typeof value === "string" ? value : value.join(", ")).trim();
  }
  return undefined;
}
