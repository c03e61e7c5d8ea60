/**
 * The addresses no tenant may reach unless an operator allows them: the default-deny table.
 *
 * The table is explicit (rather than trusting `ipaddr.js`'s `range()` names alone) so every refusal can name the
 * CIDR that refused it, and so a reviewer can read the whole policy in one screen. `range()` is still consulted
 * afterwards as a safety net for special-purpose blocks the table does not list (AS112, AMT, ORCHID…): none of
 * them is a plausible webhook endpoint, so refusing them costs nothing.
 */
import ipaddr from "ipaddr.js";
import { embeddedIPv4 } from "./embedded.ts";

export type IPAddress = ipaddr.IPv4 | ipaddr.IPv6;

/** Why an address is refused: the rule name tenants and operators see, and a sentence for logs. */
export interface Denial {
  rule: string;
  detail: string;
}

interface DeniedRange {
  rule: string;
  cidr: string;
  description: string;
}

/** First match wins, so narrower blocks (broadcast) precede the blocks that contain them (240/4). */
const deniedRanges: readonly DeniedRange[] = [
  { rule: "default:unspecified", cidr: "0.0.0.0/8", description: "the \"this network\" range" },
  { rule: "default:private", cidr: "10.0.0.0/8", description: "a private range" },
  { rule: "default:cgnat", cidr: "100.64.0.0/10", description: "the carrier-grade NAT range" },
  { rule: "default:loopback", cidr: "127.0.0.0/8", description: "the loopback range" },
  { rule: "default:link_local", cidr: "169.254.0.0/16", description: "the link-local range (cloud metadata lives here)" },
  { rule: "default:private", cidr: "172.16.0.0/12", description: "a private range" },
  { rule: "default:reserved", cidr: "192.0.0.0/24", description: "the IETF protocol assignments range" },
  { rule: "default:documentation", cidr: "192.0.2.0/24", description: "a documentation range" },
  { rule: "default:reserved", cidr: "192.88.99.0/24", description: "the retired 6to4 relay range" },
  { rule: "default:private", cidr: "192.168.0.0/16", description: "a private range" },
  { rule: "default:benchmarking", cidr: "198.18.0.0/15", description: "the benchmarking range" },
  { rule: "default:documentation", cidr: "198.51.100.0/24", description: "a documentation range" },
  { rule: "default:documentation", cidr: "203.0.113.0/24", description: "a documentation range" },
  { rule: "default:multicast", cidr: "224.0.0.0/4", description: "the multicast range" },
  { rule: "default:broadcast", cidr: "255.255.255.255/32", description: "the broadcast address" },
  { rule: "default:reserved", cidr: "240.0.0.0/4", description: "the reserved range" },
  { rule: "default:unspecified", cidr: "::/128", description: "the unspecified address" },
  { rule: "default:loopback", cidr: "::1/128", description: "the loopback address" },
  // Mapped and compatible forms are how "::ffff:127.0.0.1" smuggles an IPv4 target past IPv6-only checks.
  { rule: "default:ipv4_mapped", cidr: "::ffff:0:0/96", description: "the IPv4-mapped range" },
  { rule: "default:ipv4_mapped", cidr: "::ffff:0:0:0/96", description: "the IPv4-translated range" },
  { rule: "default:ipv4_compatible", cidr: "::/96", description: "the deprecated IPv4-compatible range" },
  { rule: "default:reserved", cidr: "100::/64", description: "the discard-only range" },
  { rule: "default:benchmarking", cidr: "2001:2::/48", description: "the benchmarking range" },
  { rule: "default:documentation", cidr: "2001:db8::/32", description: "a documentation range" },
  { rule: "default:documentation", cidr: "3fff::/20", description: "a documentation range" },
  { rule: "default:unique_local", cidr: "fc00::/7", description: "the unique local range" },
  { rule: "default:link_local", cidr: "fe80::/10", description: "the link-local range" },
  { rule: "default:site_local", cidr: "fec0::/10", description: "the deprecated site-local range" },
  { rule: "default:multicast", cidr: "ff00::/8", description: "the multicast range" },
];

const parsedRanges = deniedRanges.map((range) => ({ ...range, network: ipaddr.parseCIDR(range.cidr) }));

const globalUnicast = ipaddr.parseCIDR("2000::/3");

function findListedRange(address: IPAddress): Denial | undefined {
  for (const range of parsedRanges) {
    const [network] = range.network;
    if (network.kind() !== address.kind()) continue;
    if (address.match(range.network)) {
      return { rule: range.rule, detail: `${address.toString()} is in ${range.description} (${range.cidr})` };
    }
  }
  return undefined;
}

/**
 * The default-deny verdict for one parsed address, before operator rules are considered.
 *
 * @example
 * findDefaultDenial(ipaddr.parse("10.0.0.5"));
 * // { rule: "default:private", detail: "10.0.0.5 is in a private range (10.0.0.0/8)" }
 * findDefaultDenial(ipaddr.parse("93.184.216.34")); // undefined
 */
export function findDefaultDenial(address: IPAddress): Denial | undefined {
  const listed = findListedRange(address);
  if (listed) return listed;

  if (address.kind() === "ipv6") {
    const v6 = address as ipaddr.IPv6;
    const embedding = embeddedIPv4(v6);
    if (embedding) {
      // A translation prefix is only as safe as the IPv4 address the translator will reach on our behalf.
      for (const candidate of embedding.candidates) {
        const inner = findDefaultDenial(candidate);
        if (inner) {
          return {
            rule: embedding.rule,
            detail: `${v6.toString()} embeds ${candidate.toString()} (${embedding.mechanism}); ${inner.detail}`,
          };
        }
      }
      return undefined;
    }
    if (!v6.match(globalUnicast)) {
      return { rule: "default:reserved", detail: `${v6.toString()} is outside global unicast space (2000::/3)` };
    }
  }

  const special = address.range();
  if (special !== "unicast") {
    return { rule: "default:reserved", detail: `${address.toString()} is in a special-purpose range (${special})` };
  }
  return undefined;
}

/**
 * True for the only addresses `allowLoopback` unlocks: 127.0.0.0/8 and ::1, never their mapped spellings.
 *
 * @example
 * isPlainLoopback(ipaddr.parse("127.0.0.2")); // true
 * isPlainLoopback(ipaddr.parse("::ffff:127.0.0.1")); // false
 */
export function isPlainLoopback(address: IPAddress): boolean {
  return address.range() === "loopback";
}
