/**
 * Name resolution for egress, done exactly once per hop.
 *
 * The addresses returned here are the only ones the connection may use (see `pinnedLookup` in transport.ts):
 * checking one answer and then letting the HTTP stack resolve again is the DNS-rebinding hole, where a
 * short-TTL record answers a public address to the check and 169.254.169.254 to the connect.
 */
import { lookup } from "node:dns/promises";
import { EgressTimeoutError } from "./errors.ts";
import { isLoopbackName, parseIPAddress } from "./normalise.ts";

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Answers every address a host name has. Injected in tests; must not be called for IP literals. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

/**
 * The operating system's resolver (`getaddrinfo`, so /etc/hosts and search domains apply), in its own order.
 *
 * @example
 * const addresses = await systemResolver("example.com"); // [{ address: "93.184.216.34", family: 4 }, …]
 */
export const systemResolver: Resolver = async (hostname) => {
  const answers = await lookup(hostname, { all: true, verbatim: true });
  return answers.map((answer) => ({ address: answer.address, family: answer.family === 6 ? 6 : 4 }));
};

/** RFC 6761 says `localhost` names are loopback; asking DNS would let a resolver say otherwise. */
const loopbackAnswer: readonly ResolvedAddress[] = [
  { address: "127.0.0.1", family: 4 },
  { address: "::1", family: 6 },
];

/**
 * Resolves a host name through `resolver`, except `localhost` names, which never leave the process.
 *
 * @example
 * await resolveHost("api.localhost", systemResolver); // [{ address: "127.0.0.1", family: 4 }, { address: "::1", family: 6 }]
 */
export async function resolveHost(hostname: string, resolver: Resolver): Promise<ResolvedAddress[]> {
  if (isLoopbackName(hostname)) return [...loopbackAnswer];
  return resolver(hostname);
}

/**
 * IPv4 first, then the resolver's order: containers often have an IPv6 address but no IPv6 route, and the
 * runtimes differ in whether they fall back to the next address.
 *
 * @example
 * preferIPv4([{ address: "2606:4700::1111", family: 6 }, { address: "1.1.1.1", family: 4 }]).map((entry) => entry.address);
 * // ["1.1.1.1", "2606:4700::1111"]
 */
export function preferIPv4(addresses: readonly ResolvedAddress[]): ResolvedAddress[] {
  return [...addresses.filter((entry) => entry.family === 4), ...addresses.filter((entry) => entry.family === 6)];
}

/**
 * The addresses a URL's host stands for: an IP literal is itself, `localhost` names are loopback, anything else is
 * asked of `resolver`, which must answer by `deadline` (a `performance.now()` value) or the call rejects with
 * EgressTimeoutError("dns"). A resolver's own failure rejects as it is; the caller says what it means.
 *
 * @example
 * await resolveUrlHost(new URL("https://[::1]:8200/"), systemResolver, performance.now() + 1000, 1000); // [{ address: "::1", family: 6 }]
 */
export async function resolveUrlHost(url: URL, resolver: Resolver, deadline: number, limitMs: number): Promise<ResolvedAddress[]> {
  const literal = parseIPAddress(url.hostname);
  if (literal) return [{ address: literal.toString(), family: literal.kind() === "ipv4" ? 4 : 6 }];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EgressTimeoutError("dns", limitMs)), Math.max(0, deadline - performance.now()));
  });
  return Promise.race([resolveHost(url.hostname, resolver), expiry]).finally(() => clearTimeout(timer));
}
