/**
 * Forward authentication: ask the tenant's own auth service whether to accept a request, the way reverse proxies
 * do (Traefik ForwardAuth, nginx auth_request). The service gets a GET with the request's headers (the body is
 * not sent) plus X-Forwarded-Method/-Uri/-Proto/-Host/-For and X-Real-IP, through the egress client like every
 * outbound request. Those it gets from us only: the sender's own `Forwarded`, `X-Real-IP` and `X-Forwarded-*`
 * are dropped, as Traefik and nginx do, since auth services written for them trust these (sweep 17: a sender's
 * `X-Forwarded-For: <an allowed address>` passed an address check).
 *
 * It fails closed: only a 2xx accepts. 401 and 403 are passed on to the sender; a transport error, a timeout, a
 * refused destination, a redirect or any other status answers 503, so an outage of the auth service can never
 * open the route.
 */
import type { EgressClient } from "../egress/client.ts";

export type ForwardVerdict = { kind: "allowed" } | { kind: "denied"; status: 401 | 403 } | { kind: "unavailable" };

/** Not forwarded: they describe this hop's framing, not the sender's credentials. */
const HOP_HEADERS = new Set([
  "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host",
  "content-length", "content-type", "content-encoding", "expect",
]);

export interface ForwardedRequest {
  headers: Headers;
  method: string;
  path: string;
  /** The client's address as we trust it (http/forwarded.ts). */
  clientIp: string;
  scheme: "http" | "https";
}

/** Headers that say where a request came from: ours to set, never the sender's to pass on. */
const isForwardingHeader = (name: string) => name === "forwarded" || name === "x-real-ip" || name.startsWith("x-forwarded-");

/**
 * @example
 * const verdict = await checkForwardAuth(ctx.egress, { url: "https://auth.internal/check", timeout_ms: 2000 }, request, route.org_id);
 * if (verdict.kind === "unavailable") return c.body(null, 503);
 */
export async function checkForwardAuth(egress: EgressClient, target: { url: string; timeout_ms: number }, request: ForwardedRequest, orgId: string): Promise<ForwardVerdict> {
  // fromEntries defines each key, so a header named `__proto__` is passed on (an assignment set a prototype).
  const headers: Record<string, string> = Object.fromEntries([...request.headers].filter(([name]) => !HOP_HEADERS.has(name) && !isForwardingHeader(name)));
  headers["x-forwarded-method"] = request.method;
  headers["x-forwarded-uri"] = request.path;
  headers["x-forwarded-proto"] = request.scheme;
  const host = request.headers.get("host");
  if (host) headers["x-forwarded-host"] = host;
  if (request.clientIp) {
    headers["x-forwarded-for"] = request.clientIp;
    headers["x-real-ip"] = request.clientIp;
  }
  const result = await egress.send({ url: target.url, method: "GET", headers, timeoutMs: target.timeout_ms, owner: orgId });
  if (!result.ok) return { kind: "unavailable" };
  if (result.status >= 200 && result.status < 300) return { kind: "allowed" };
  if (result.status === 401 || result.status === 403) return { kind: "denied", status: result.status };
  return { kind: "unavailable" };
}
