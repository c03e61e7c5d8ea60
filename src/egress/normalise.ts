/**
 * Turning what a tenant typed into the one spelling every check then sees.
 *
 * SSRF filters are usually bypassed by spelling, not by cleverness: `http://2130706433/`, `0x7f.1`, `127.1`,
 * `[::ffff:7f00:1]`, `LOCALHOST.`, full-width digits. The WHATWG URL parser (the same in Node, Bun and Deno)
 * already rewrites every IPv4 spelling to dotted decimal and applies IDNA (lower case, punycode), so we parse
 * with it first and then only accept canonical forms; anything that still looks like an IP address in an odd
 * spelling is refused rather than guessed at.
 */
import ipaddr from "ipaddr.js";
import type { IPAddress } from "./ranges.ts";

export const MAX_URL_LENGTH = 2048;

export type TargetHost =
  | { kind: "ip"; hostname: string; address: IPAddress }
  /** `localhost` and `*.localhost` (RFC 6761): loopback by definition, so never sent to a resolver. */
  | { kind: "loopback_name"; hostname: string }
  | { kind: "name"; hostname: string };

export type ParsedTarget = { ok: true; url: URL; host: TargetHost } | { ok: false; rule: "url"; detail: string };

const hostLabel = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * Parses an IP address written canonically: dotted-decimal IPv4 or any valid IPv6 (brackets allowed).
 * Returns undefined for everything else, including `127.1` and zone ids (`fe80::1%eth0`).
 *
 * @example
 * parseIPAddress("[::1]")?.toString(); // "::1"
 * parseIPAddress("0x7f.1"); // undefined
 */
export function parseIPAddress(text: string): IPAddress | undefined {
  const bare = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  if (ipaddr.IPv4.isValidFourPartDecimal(bare)) return ipaddr.IPv4.parse(bare);
  if (!bare.includes(":") || bare.includes("%") || !ipaddr.IPv6.isValid(bare)) return undefined;
  // ipaddr.js reads the deprecated "::a.b.c.d" as "::ffff:a.b.c.d"; the URL parser keeps it IPv4-compatible.
  try {
    return ipaddr.IPv6.parse(new URL(`http://[${bare}]/`).hostname.slice(1, -1));
  } catch {
    return undefined;
  }
}

/**
 * `localhost` and its subdomains (RFC 6761), which resolve to loopback by definition.
 *
 * @example
 * isLoopbackName("api.localhost"); // true
 * isLoopbackName("localhost.example.com"); // false
 */
export function isLoopbackName(hostname: string): boolean {
  return hostname === "localhost" || hostname.endsWith(".localhost");
}

/**
 * Classifies a host as the URL parser left it (lower case, punycode, IPv4 already dotted), dropping one
 * trailing dot so `localhost.` and `example.com.` match the rules written without it.
 *
 * @example
 * classifyHost("localhost."); // { ok: true, host: { kind: "loopback_name", hostname: "localhost" } }
 * classifyHost("a..b"); // { ok: false, detail: "a..b is not a valid host name" }
 */
export function classifyHost(parsedHostname: string): { ok: true; host: TargetHost } | { ok: false; detail: string } {
  const hostname = parsedHostname.endsWith(".") ? parsedHostname.slice(0, -1) : parsedHostname;
  if (hostname === "") return { ok: false, detail: "the URL has no host" };
  const address = parseIPAddress(hostname);
  if (address) return { ok: true, host: { kind: "ip", hostname: address.toString(), address } };
  if (hostname.startsWith("[") || ipaddr.IPv4.isValid(hostname)) {
    return { ok: false, detail: `${hostname} is an IP address in an ambiguous spelling` };
  }
  const labels = hostname.split(".");
  if (hostname.length > 253 || !labels.every((label) => hostLabel.test(label))) {
    return { ok: false, detail: `${hostname} is not a valid host name` };
  }
  return { ok: true, host: { kind: isLoopbackName(hostname) ? "loopback_name" : "name", hostname } };
}

/**
 * Normalises a bare host name or address the way a URL's host would be (IDNA, lower case, trailing dot).
 *
 * @example
 * normaliseHost("Bücher.Example."); // { ok: true, host: { kind: "name", hostname: "xn--bcher-kva.example" } }
 */
export function normaliseHost(text: string): { ok: true; host: TargetHost } | { ok: false; detail: string } {
  const trimmed = text.trim();
  const bracketed = trimmed.startsWith("[") && trimmed.endsWith("]");
  if (trimmed === "" || /[\s/\\@?#%]/.test(trimmed) || (!bracketed && trimmed.includes(":") && !parseIPAddress(trimmed))) {
    return { ok: false, detail: `${JSON.stringify(text)} is not a host name or IP address` };
  }
  const literal = parseIPAddress(trimmed);
  if (literal) return { ok: true, host: { kind: "ip", hostname: literal.toString(), address: literal } };
  try {
    return classifyHost(new URL(`http://${trimmed}/`).hostname);
  } catch {
    return { ok: false, detail: `${JSON.stringify(text)} is not a valid host name` };
  }
}

/**
 * Parses and normalises a destination URL: scheme http(s), a host, a port in 1–65535, no credentials, at most
 * 2048 characters. The returned URL's hostname is the canonical one, so the Host header, SNI and certificate
 * check all use the same name the policy checked.
 *
 * @example
 * const parsed = parseTargetUrl("http://0x7f.1:8080/hook");
 * parsed.ok && parsed.host; // { kind: "ip", hostname: "127.0.0.1", address: IPv4 }
 */
export function parseTargetUrl(raw: string): ParsedTarget {
  if (raw.length > MAX_URL_LENGTH) return { ok: false, rule: "url", detail: `the URL is longer than ${MAX_URL_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, rule: "url", detail: "the URL cannot be parsed" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { ok: false, rule: "url", detail: `the scheme ${url.protocol.replace(/:$/, "")} is not allowed (http or https only)` };
  }
  if (url.username !== "" || url.password !== "") {
    return { ok: false, rule: "url", detail: "the URL carries credentials; send them in a header instead" };
  }
  if (url.port === "0") return { ok: false, rule: "url", detail: "port 0 is not a valid destination port" };
  const classified = classifyHost(url.hostname);
  if (!classified.ok) return { ok: false, rule: "url", detail: classified.detail };
  const { host } = classified;
  url.hostname = host.kind === "ip" && host.address.kind() === "ipv6" ? `[${host.hostname}]` : host.hostname;
  if (url.href.length > MAX_URL_LENGTH) {
    return { ok: false, rule: "url", detail: `the URL is longer than ${MAX_URL_LENGTH} characters once normalised` };
  }
  return { ok: true, url, host };
}
