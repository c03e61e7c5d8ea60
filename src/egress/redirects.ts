/**
 * How a followed redirect rewrites the next request. Only used when the policy turns `followRedirects` on; the
 * next URL then goes through the full policy again (static check, resolution, address check).
 */
export const MAX_REDIRECTS = 5;

const redirectStatuses = new Set([301, 302, 303, 307, 308]);

/** Credentials meant for one origin must not be replayed to another the first one redirected us to. */
const originBoundHeaders = new Set(["authorization", "cookie", "proxy-authorization"]);

export interface HopRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
}

/**
 * The request to send after a redirect response, or undefined when the response is not a usable redirect
 * (not a redirect status, no `Location`, or an unparsable one): the caller then returns the 3xx as it is.
 * 303 always becomes GET; 301/302 turn POST into GET as browsers do; 307/308 keep method and body.
 *
 * @example
 * nextHop({ url: "https://a.example/x", method: "POST", headers: {}, body: undefined }, new URL("https://a.example/x"), 303, "/y");
 * // { url: "https://a.example/y", method: "GET", headers: {}, body: undefined }
 */
export function nextHop(previous: HopRequest, previousUrl: URL, status: number, location: string | undefined): HopRequest | undefined {
  if (!redirectStatuses.has(status) || location === undefined || location === "") return undefined;
  let target: URL;
  try {
    target = new URL(location, previousUrl);
  } catch {
    return undefined;
  }
  const becomesGet = (status === 303 && previous.method !== "HEAD") || ((status === 301 || status === 302) && previous.method === "POST");
  const crossOrigin = target.origin !== previousUrl.origin;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(previous.headers)) {
    const lower = name.toLowerCase();
    if (crossOrigin && originBoundHeaders.has(lower)) continue;
    if (becomesGet && lower === "content-type") continue;
    headers[name] = value;
  }
  return {
    url: target.href,
    method: becomesGet ? "GET" : previous.method,
    headers,
    body: becomesGet ? undefined : previous.body,
  };
}
