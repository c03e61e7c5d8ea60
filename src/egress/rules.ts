/**
 * Operator allow/deny rules: CIDRs (`10.0.0.0/8`), single addresses, exact host names (`hooks.example.com`) and
 * subdomain wildcards (`*.example.com`).
 *
 * A wildcard deliberately does not match its apex: `*.internal.example` is written to fence off the hosts of a
 * zone, while the apex is often a public website the operator wants to keep reachable (or deny separately).
 */
import ipaddr from "ipaddr.js";
import { normaliseHost, parseIPAddress } from "./normalise.ts";
import type { IPAddress } from "./ranges.ts";

export type OperatorRule =
  | { kind: "cidr"; text: string; network: [IPAddress, number] }
  | { kind: "host"; text: string; hostname: string }
  | { kind: "subdomains"; text: string; suffix: string };

export class EgressRuleError extends Error {
  override readonly name = "EgressRuleError";
}

function parseCidr(text: string): OperatorRule | string {
  const [addressPart = "", prefixPart = ""] = text.split("/", 2);
  const address = parseIPAddress(addressPart);
  const maxPrefix = address?.kind() === "ipv4" ? 32 : 128;
  if (!address || !/^\d{1,3}$/.test(prefixPart) || Number(prefixPart) > maxPrefix) {
    return `${JSON.stringify(text)} is not a CIDR range (expected e.g. 10.0.0.0/8 or fc00::/7)`;
  }
  return { kind: "cidr", text, network: [address, Number(prefixPart)] };
}

/**
 * Parses one rule, or explains why it is not one.
 *
 * @example
 * parseOperatorRule("*.Internal.Example"); // { kind: "subdomains", text: "*.Internal.Example", suffix: "internal.example" }
 * parseOperatorRule("10.0.0.0/33"); // '"10.0.0.0/33" is not a CIDR range (expected e.g. 10.0.0.0/8 or fc00::/7)'
 */
export function parseOperatorRule(raw: string): OperatorRule | string {
  const text = raw.trim();
  if (text.includes("/")) return parseCidr(text);
  const address = parseIPAddress(text);
  if (address) return { kind: "cidr", text, network: [address, address.kind() === "ipv4" ? 32 : 128] };
  const wildcard = text.startsWith("*.");
  const normalised = normaliseHost(wildcard ? text.slice(2) : text);
  if (!normalised.ok || normalised.host.kind === "ip") {
    return `${JSON.stringify(text)} is not a CIDR, IP address, host name or *.domain wildcard`;
  }
  const name = normalised.host.hostname;
  return wildcard ? { kind: "subdomains", text, suffix: name } : { kind: "host", text, hostname: name };
}

/**
 * Parses a whole list, throwing on the first bad rule: a policy with a rule we cannot read must not run,
 * because silently skipping a deny rule is an open door.
 *
 * @example
 * compileOperatorRules(["10.0.0.0/8", "*.corp.example"]).length; // 2
 */
export function compileOperatorRules(list: readonly string[]): OperatorRule[] {
  return list.map((text) => {
    const rule = parseOperatorRule(text);
    if (typeof rule === "string") throw new EgressRuleError(`invalid egress rule: ${rule}`);
    return rule;
  });
}

/**
 * Host rules only: an IP-literal target has no name to match.
 *
 * @example
 * ruleMatchesHost({ kind: "subdomains", text: "*.corp.example", suffix: "corp.example" }, "db.corp.example"); // true
 * ruleMatchesHost({ kind: "subdomains", text: "*.corp.example", suffix: "corp.example" }, "corp.example"); // false
 */
export function ruleMatchesHost(rule: OperatorRule, hostname: string | undefined): boolean {
  if (hostname === undefined) return false;
  if (rule.kind === "host") return hostname === rule.hostname;
  if (rule.kind === "subdomains") return hostname.endsWith(`.${rule.suffix}`);
  return false;
}

/**
 * CIDR rules only; an IPv4-mapped IPv6 address is compared as the IPv4 address it maps to.
 *
 * @example
 * const rule = parseOperatorRule("10.0.0.0/8");
 * typeof rule !== "string" && ruleMatchesAddress(rule, ipaddr.parse("::ffff:10.1.2.3")); // true
 */
export function ruleMatchesAddress(rule: OperatorRule, address: IPAddress): boolean {
  if (rule.kind !== "cidr") return false;
  const comparable = address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress()
    ? (address as ipaddr.IPv6).toIPv4Address()
    : address;
  const [network] = rule.network;
  return network.kind() === comparable.kind() && comparable.match(rule.network);
}
