/**
 * IPv6 addresses that carry an IPv4 address inside them, and therefore reach that IPv4 address through a
 * translator or tunnel: NAT64 (RFC 6052, RFC 8215), 6to4 (RFC 3056) and Teredo (RFC 4380).
 *
 * Without this, `64:ff9b::a9fe:a9fe` is "a public IPv6 address" to a naive check and "169.254.169.254" to a
 * NAT64 gateway in the same VPC.
 */
import ipaddr from "ipaddr.js";

export interface Embedding {
  rule: "default:nat64" | "default:6to4" | "default:teredo";
  mechanism: string;
  /** Every IPv4 address the IPv6 address may stand for; refuse if any of them is refused. */
  candidates: ipaddr.IPv4[];
}

const wellKnownNat64 = ipaddr.parseCIDR("64:ff9b::/96");
const localUseNat64 = ipaddr.parseCIDR("64:ff9b:1::/48");
const sixToFour = ipaddr.parseCIDR("2002::/16");
const teredo = ipaddr.parseCIDR("2001::/32");

/**
 * RFC 6052 §2.2 layouts: which bytes hold the IPv4 address for each translator prefix length, and which bytes
 * must then be zero (the "u" octet and the suffix). The local-use prefix may be deployed at any of these lengths,
 * and we cannot know which one this network uses, so every layout whose zero bytes are zero is a candidate.
 */
const nat64Layouts: readonly { ipv4Bytes: readonly number[]; zeroBytes: readonly number[] }[] = [
  { ipv4Bytes: [6, 7, 9, 10], zeroBytes: [8, 11, 12, 13, 14, 15] }, // /48
  { ipv4Bytes: [7, 9, 10, 11], zeroBytes: [8, 12, 13, 14, 15] }, // /56
  { ipv4Bytes: [9, 10, 11, 12], zeroBytes: [8, 13, 14, 15] }, // /64
  { ipv4Bytes: [12, 13, 14, 15], zeroBytes: [] }, // /96
];

function ipv4From(bytes: readonly number[], indexes: readonly number[], xor = 0): ipaddr.IPv4 {
  return new ipaddr.IPv4(indexes.map((index) => (bytes[index] ?? 0) ^ xor));
}

/**
 * The IPv4 address(es) an IPv6 address embeds, or undefined when it embeds none.
 *
 * @example
 * embeddedIPv4(ipaddr.IPv6.parse("64:ff9b::a9fe:a9fe"))?.candidates.map(String); // ["169.254.169.254"]
 * embeddedIPv4(ipaddr.IPv6.parse("2606:4700::1111")); // undefined
 */
export function embeddedIPv4(address: ipaddr.IPv6): Embedding | undefined {
  const bytes = address.toByteArray();
  if (address.match(wellKnownNat64)) {
    return { rule: "default:nat64", mechanism: "NAT64 64:ff9b::/96", candidates: [ipv4From(bytes, [12, 13, 14, 15])] };
  }
  if (address.match(localUseNat64)) {
    const candidates = nat64Layouts
      .filter((layout) => layout.zeroBytes.every((index) => bytes[index] === 0))
      .map((layout) => ipv4From(bytes, layout.ipv4Bytes));
    return { rule: "default:nat64", mechanism: "local-use NAT64 64:ff9b:1::/48", candidates };
  }
  if (address.match(sixToFour)) {
    return { rule: "default:6to4", mechanism: "6to4 2002::/16", candidates: [ipv4From(bytes, [2, 3, 4, 5])] };
  }
  if (address.match(teredo)) {
    // Bytes 4–7 are the Teredo server; the client address is stored bit-inverted in bytes 12–15 (RFC 4380 §4).
    const server = ipv4From(bytes, [4, 5, 6, 7]);
    const client = ipv4From(bytes, [12, 13, 14, 15], 0xff);
    return { rule: "default:teredo", mechanism: "Teredo 2001::/32", candidates: [server, client] };
  }
  return undefined;
}
