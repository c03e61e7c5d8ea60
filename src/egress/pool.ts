/**
 * Keep-alive connections, pooled per pinned destination, so a busy endpoint does not pay a TCP and TLS handshake
 * per delivery.
 *
 * Why one `http.Agent` per destination rather than one shared agent: an agent pools sockets by host name and port,
 * and our sockets are pinned to addresses (transport.ts). A shared agent therefore hands a socket connected to
 * yesterday's checked address to a request whose resolution and check produced another one (measured on Node 20
 * and Bun 1.4: the second request rode the first one's socket). Keying the agent by the checked address set makes
 * that impossible: every socket in a pool is connected to one address of its key, and a request only borrows from
 * the pool whose key is exactly the set its own check produced, so the address it talks to was checked for it.
 * Scheme, host name (Host and SNI), port and the TLS material that decides whether a handshake is acceptable
 * (trusted roots, client certificate) are in the key for the same reason: a socket verified under one set of
 * roots is never reused under another.
 *
 * Bounded, because tenants choose destinations: sockets per destination, idle sockets per destination, an idle
 * timeout, and the number of destinations (least recently used first out). An evicted destination's idle sockets
 * are closed at once; sockets still carrying a request are closed when that request ends, so an attacker cycling
 * through many URLs cannot abort other tenants' deliveries, only stop them from reusing connections.
 */
import { createHash } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import type { ResolvedAddress } from "./resolver.ts";

export interface ConnectionPoolLimits {
  /** Connections open at once to one destination; further requests wait for one within their total timeout. */
  maxSocketsPerDestination: number;
  maxIdleSocketsPerDestination: number;
  /** How long an idle connection is kept; 0 turns keep-alive off (every request opens and closes its own). */
  idleTimeoutMs: number;
  /** Destinations with pooled connections; the least recently used one beyond this is closed. */
  maxDestinations: number;
}

export interface PinnedDestination {
  secure: boolean;
  /** The name sent as Host and SNI (an IP literal when the URL has one). */
  hostname: string;
  port: number;
  /** The addresses the policy checked for this request; a new socket connects to one of them. */
  addresses: readonly ResolvedAddress[];
  trustedCertificates?: readonly string[] | undefined;
  clientCertificate?: { cert: string; key: string } | undefined;
}

export interface PoolLease {
  agent: http.Agent;
  /** Ends the lease, exactly once per `lease()`; `socket` is closed rather than kept if its destination was evicted. */
  release(socket: Socket | undefined): void;
}

export interface ConnectionPool {
  lease(destination: PinnedDestination): PoolLease;
  /** Closes idle connections now and in-use ones as their request ends; resolves once none is left. */
  close(): Promise<void>;
}

interface Destination {
  agent: http.Agent;
  inFlight: number;
  retired: boolean;
}

/** Certificates and keys go into the key as a digest: the key is kept per destination and PEM is kilobytes. */
function digest(parts: readonly string[]): string {
  return parts.length === 0 ? "" : createHash("sha256").update(parts.join("\0")).digest("base64url");
}

/**
 * The pool key: sockets are shared only between requests whose keys are equal. Addresses are a sorted set, so a
 * resolver that rotates its answers does not split one destination into several pools.
 *
 * @example
 * destinationKey({ secure: true, hostname: "hooks.example", port: 443, addresses: [{ address: "93.184.216.34", family: 4 }] });
 * // "https|hooks.example|443|93.184.216.34||"
 */
export function destinationKey(destination: PinnedDestination): string {
  const addresses = destination.addresses.map((entry) => entry.address).sort().join(",");
  const client = destination.clientCertificate;
  return [
    destination.secure ? "https" : "http",
    destination.hostname,
    destination.port,
    addresses,
    digest(destination.trustedCertificates ?? []),
    digest(client ? [client.cert, client.key] : []),
  ].join("|");
}

function destroyIdleSockets(agent: http.Agent): void {
  for (const sockets of Object.values(agent.freeSockets)) {
    for (const socket of sockets ?? []) socket.destroy();
  }
}

/**
 * @example
 * const pool = createConnectionPool({ maxSocketsPerDestination: 16, maxIdleSocketsPerDestination: 16, idleTimeoutMs: 4000, maxDestinations: 128 });
 * const lease = pool.lease({ secure: true, hostname: "hooks.example", port: 443, addresses: checked });
 * // http.request({ ..., agent: lease.agent }); when the exchange has ended: lease.release(socket)
 * await pool.close();
 */
export function createConnectionPool(limits: ConnectionPoolLimits): ConnectionPool {
  const destinations = new Map<string, Destination>();
  const draining = new Set<Destination>();
  let drained: (() => void)[] = [];

  const settleIfDrained = (): void => {
    if (draining.size > 0) return;
    for (const resolve of drained) resolve();
    drained = [];
  };

  const retire = (destination: Destination): void => {
    destination.retired = true;
    if (destination.inFlight === 0) {
      destination.agent.destroy();
      return;
    }
    destroyIdleSockets(destination.agent);
    draining.add(destination);
  };

  const open = (secure: boolean): Destination => {
    const options: http.AgentOptions = {
      keepAlive: true,
      maxSockets: limits.maxSocketsPerDestination,
      maxFreeSockets: limits.maxIdleSocketsPerDestination,
      // Shorter than the 5 s most servers keep an idle connection, so we close first rather than write into a
      // socket the server is closing. Both runtimes apply it to idle sockets only, and shorten it further when a
      // response announces `Keep-Alive: timeout=N`.
      timeout: limits.idleTimeoutMs,
      // Most recently used first: the idle socket least likely to have been closed by the server.
      scheduling: "lifo",
    };
    return { agent: secure ? new https.Agent(options) : new http.Agent(options), inFlight: 0, retired: false };
  };

  return {
    lease(pinned) {
      const key = destinationKey(pinned);
      let destination = destinations.get(key);
      if (destination) {
        destinations.delete(key);
      } else {
        destination = open(pinned.secure);
      }
      destinations.set(key, destination);
      for (const [oldestKey, oldest] of destinations) {
        if (destinations.size <= limits.maxDestinations) break;
        destinations.delete(oldestKey);
        retire(oldest);
      }
      const leased = destination;
      leased.inFlight += 1;
      let released = false;
      return {
        agent: leased.agent,
        release(socket) {
          if (released) return;
          released = true;
          leased.inFlight -= 1;
          if (!leased.retired) return;
          socket?.destroy();
          if (leased.inFlight === 0) {
            leased.agent.destroy();
            draining.delete(leased);
            settleIfDrained();
          }
        },
      };
    },
    close() {
      for (const destination of destinations.values()) retire(destination);
      destinations.clear();
      return new Promise<void>((resolve) => {
        drained.push(resolve);
        settleIfDrained();
      });
    },
  };
}
