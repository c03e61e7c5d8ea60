/**
 * What a request says about itself through the proxies in front of us (`HOOKLEDGER_TRUST_PROXY`: how many).
 *
 * Why the right-most hops: a proxy appends the address it saw to whatever X-Forwarded-For the client sent (nginx's
 * `$proxy_add_x_forwarded_for`, AWS ALB, Caddy, HAProxy `option forwardfor`), so the list's left end is the
 * client's own writing. With N trusted proxies the client is the N-th entry from the right: the one our
 * front-most proxy appended. Taking the first entry let any client choose its address — past an ingress route's
 * forward-auth service that allows by address, into loopback-only `/metrics`, and out of its per-address rate limit
 * (sweep 17). Express's `trust proxy` hop count works the same way.
 */
import ipaddr from "ipaddr.js";

/** 4 for a dotted-decimal IPv4 address, 6 for an IPv6 one (no zone id), 0 for anything else. */
function ipVersion(text: string): 4 | 6 | 0 {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return 4;
  return text.includes(":") && !text.includes("%") && ipaddr.IPv6.isValid(text) ? 6 : 0;
}

/** The entries of a comma-separated forwarding header (several header lines arrive joined with commas). */
function hops(header: string | undefined): string[] {
  if (!header) return [];
  return header.split(",").map((entry) => entry.trim()).filter((entry) => entry.length > 0);
}

/** The entry the `trusted`-th proxy from us wrote, or the left-most when fewer came; undefined when none or none trusted. */
function trustedEntry(header: string | undefined, trusted: number): string | undefined {
  if (trusted <= 0) return undefined;
  const entries = hops(header);
  if (entries.length === 0) return undefined;
  return entries[Math.max(0, entries.length - trusted)];
}

/** An address as proxies write it (`203.0.113.9`, `203.0.113.9:4711`, `[2001:db8::1]:4711`, `2001:db8::1`), or undefined. */
function addressOf(entry: string): string | undefined {
  if (ipVersion(entry) !== 0) return entry;
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(entry);
  if (bracketed?.[1] && ipVersion(bracketed[1]) === 6) return bracketed[1];
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(entry);
  if (withPort?.[1] && ipVersion(withPort[1]) === 4) return withPort[1];
  return undefined;
}

/**
 * The client's address: from X-Forwarded-For as the trusted proxies wrote it, else the socket's (also when the
 * trusted entry is not an address: a proxy that wrote something else is not believed).
 *
 * @example
 * clientAddressOf("198.51.100.7, 203.0.113.9", "10.0.0.2", 1); // "203.0.113.9": the client wrote 198.51.100.7
 */
export function clientAddressOf(forwardedFor: string | undefined, socketAddress: string, trustedProxies: number): string {
  const entry = trustedEntry(forwardedFor, trustedProxies);
  return (entry && addressOf(entry)) || socketAddress;
}

/** The scheme the client used, as the trusted proxies say (X-Forwarded-Proto), or undefined. */
export function forwardedProto(forwardedProto: string | undefined, trustedProxies: number): string | undefined {
  return trustedEntry(forwardedProto, trustedProxies)?.toLowerCase();
}

/** `http` or `https`: as the trusted proxies say, else the scheme this listener served the request over. */
export function requestScheme(url: string, forwardedProtoHeader: string | undefined, trustedProxies: number): "http" | "https" {
  const said = forwardedProto(forwardedProtoHeader, trustedProxies);
  if (said === "https" || said === "http") return said;
  return new URL(url).protocol === "https:" ? "https" : "http";
}
