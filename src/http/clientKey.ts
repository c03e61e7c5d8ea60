/**
 * The key a client's per-client limits are counted under (the per-address rate limit, the per-client share of the
 * body budget): an IPv4 address as it is, an IPv6 address by its /64.
 *
 * Why /64: it is the smallest network an IPv6 host is given (a home line, a cloud VM: RFC 6177, and SLAAC needs
 * it), and every one of its 2^64 addresses is the same client's to use. Keyed by the whole address, a client with
 * a /64 was a new client on every connection, so neither its rate limit nor its share of the body budget bound it
 * (sweep 22): its slow uploads could again hold the whole budget, the one thing the share exists to stop. An
 * IPv4-mapped address (`::ffff:203.0.113.9`, as a dual-stack socket reports an IPv4 client) is its IPv4 address,
 * not one /64 shared by every IPv4 client. Anything that is not an address (a runtime that gave none) is its own key.
 *
 * @example
 * clientKey("2001:db8:1:2:aaaa::1"); // "2001:db8:1:2::/64"
 * clientKey("::ffff:203.0.113.9"); // "203.0.113.9"
 */
import ipaddr from "ipaddr.js";

export function clientKey(address: string): string {
  if (!address.includes(":") || !ipaddr.isValid(address)) return address;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === "ipv4") return parsed.toString();
  const hextets = (parsed as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16));
  return `${hextets.join(":")}::/64`;
}
