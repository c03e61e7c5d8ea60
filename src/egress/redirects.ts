/**
 * How a followed redirect rewrites the next request. Only used when the policy turns `followRedirects` on; the
 * next URL then goes through the full policy again (static check, resolution, address check).
 *
 * Only same-origin redirects are followed (same scheme, host and port). We used to follow any origin and strip
 * authorization, cookie and proxy-authorization on the way, which still handed the new origin the subscription's
 * custom headers (an `x-api-key`), the signature headers (replayable to the real endpoint within the tolerance)
 * and whatever the delivery layer adds next. An allow-list of generic headers would stop that but still send the
 * event body to an origin the tenant never configured and we never checked at subscription time, unsigned, so a
 * receiver that verifies signatures would refuse it anyway. Returning the 3xx instead shows the tenant the
 * `Location` to put in the subscription, and a same-origin hop (a moved path, a trailing slash) goes to the
 * receiver that was configured, so it keeps every header.
 */
export const MAX_REDIRECTS = 5;

const redirectStatuses = new Set([301, 302, 303, 307, 308]);

export interface HopRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
}

/**
 * The request to send after a redirect response, or undefined when the response is not a redirect we follow (not
 * a redirect status, no `Location`, an unparsable one, or another origin): the caller then returns the 3xx as it is.
 * 303 always becomes GET; 301/302 turn POST into GET as browsers do; 307/308 keep method and body.
 *
 * @example
 * nextHop({ url: "https://a.example/x", method: "POST", headers: {}, body: undefined }, new URL("https://a.example/x"), 303, "/y");
 * // { url: "https://a.example/y", method: "GET", headers: {}, body: undefined }
 * nextHop({ url: "https://a.example/x", method: "POST", headers: {}, body: undefined }, new URL("https://a.example/x"), 307, "https://b.example/x");
 * // undefined
 */
export function nextHop(previous: HopRequest, previousUrl: URL, status: number, location: string | undefined): HopRequest | undefined {
  if (!redirectStatuses.has(status) || location === undefined || location === "") return undefined;
  let target: URL;
  try {
    target = new URL(location, previousUrl);
  } catch {
    return undefined;
  }
  if (target.origin !== previousUrl.origin) return undefined;
  const becomesGet = (status === 303 && previous.method !== "HEAD") || ((status === 301 || status === 302) && previous.method === "POST");
  const headers: Record<string, string> = Object.fromEntries(
    Object.entries(previous.headers).filter(([name]) => !(becomesGet && name.toLowerCase() === "content-type")),
  );
  return {
    url: target.href,
    method: becomesGet ? "GET" : previous.method,
    headers,
    body: becomesGet ? undefined : previous.body,
  };
}
