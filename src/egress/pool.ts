/**
 * Keep-alive connections, pooled per pinned destination, so a busy endpoint does not pay a TCP and TLS handshake
 * per delivery.
 *
 * Pooled by the checked address set, never by host name: a pool keyed by name and port would hand a socket
 * connected to yesterday's checked address to a request whose resolution and check produced another one. Keying
 * by the checked addresses makes that impossible: every socket of a destination is connected to one address of
 * its key, and a request only borrows from the destination whose key is exactly the set its own check produced,
 * so the address it talks to was checked for it. Scheme, host name (Host and SNI), port and the TLS material that
 * decides whether a handshake is acceptable (trusted roots, client certificate) are in the key for the same
 * reason: a socket verified under one set of roots is never reused under another.
 *
 * Bounded, because tenants choose destinations: sockets per destination (further requests wait for one), idle
 * sockets per destination, an idle timeout, and the number of destinations (least recently used first out). An
 * evicted destination's idle sockets are closed at once; sockets still carrying a request are closed when that
 * request ends, so an attacker cycling through many URLs cannot abort other tenants' deliveries, only stop them
 * from reusing connections. An idle socket that the server closes, or that receives bytes nobody asked for, is
 * dropped; the most recently used idle socket is lent first (the one least likely to have been closed).
 */
import { createHash } from "node:crypto";
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
  /**
   * An idle connection to the destination, or `undefined`: the caller opens one, in a slot this lease now holds.
   * Waits while the destination has `maxSocketsPerDestination` connections open.
   */
  take(): Promise<Socket | undefined>;
  /**
   * Ends the lease, once (later calls do nothing); a lease still waiting in `take` stops waiting. `keepMs`: the
   * socket is good for another request and may idle that long at most (the server's Keep-Alive timeout);
   * otherwise it is closed.
   */
  release(socket: Socket | undefined, keepMs?: number): void;
}

export interface ConnectionPool {
  lease(destination: PinnedDestination): PoolLease;
  /** Closes idle connections now and in-use ones as their request ends; resolves once none is left. */
  close(): Promise<void>;
}

interface Idle {
  socket: Socket;
  /** Detaches the idle watch (listeners, timer) when the socket is lent again. */
  unwatch: () => void;
  /** Closes the socket and frees its slot. */
  drop: () => void;
}

interface Destination {
  /** Connections open: lent and idle (and slots of connections being opened). */
  open: number;
  idle: Idle[];
  waiters: ((socket: Socket | undefined) => void)[];
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

/**
 * @example
 * const pool = createConnectionPool({ maxSocketsPerDestination: 16, maxIdleSocketsPerDestination: 16, idleTimeoutMs: 4000, maxDestinations: 128 });
 * const lease = pool.lease({ secure: true, hostname: "hooks.example", port: 443, addresses: checked });
 * const socket = (await lease.take()) ?? (await connectPinned(...));
 * // ... one exchange ..., then: lease.release(socket, responseEndedCleanly ? 4000 : undefined)
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

  /** A slot was freed: a waiter may open a connection in it. */
  const freeSlot = (destination: Destination): void => {
    destination.open -= 1;
    const waiter = destination.open < limits.maxSocketsPerDestination ? destination.waiters.shift() : undefined;
    if (waiter) {
      destination.open += 1;
      waiter(undefined);
    }
    if (destination.retired && destination.open === 0) {
      draining.delete(destination);
      settleIfDrained();
    }
  };

  const park = (destination: Destination, socket: Socket, keepMs: number): void => {
    const onEvent = (): void => drop();
    const unwatch = (): void => {
      clearTimeout(timer);
      for (const event of ["close", "end", "data", "error"]) socket.removeListener(event, onEvent);
    };
    const drop = (): void => {
      const index = destination.idle.indexOf(idle);
      if (index === -1) return;
      destination.idle.splice(index, 1);
      unwatch();
      socket.destroy();
      freeSlot(destination);
    };
    const timer = setTimeout(drop, keepMs);
    timer.unref?.();
    const idle: Idle = { socket, unwatch, drop };
    // Closed by the server, or sent bytes while no request was out: not fit for the next request.
    for (const event of ["close", "end", "data", "error"]) socket.on(event, onEvent);
    socket.unref();
    destination.idle.push(idle);
  };

  const lend = (idle: Idle): Socket => {
    idle.unwatch();
    idle.socket.ref();
    return idle.socket;
  };

  const retire = (destination: Destination): void => {
    destination.retired = true;
    for (const idle of [...destination.idle]) idle.drop();
    if (destination.open > 0) draining.add(destination);
  };

  return {
    lease(pinned) {
      const key = destinationKey(pinned);
      const destination: Destination = destinations.get(key) ?? { open: 0, idle: [], waiters: [], retired: false };
      destinations.delete(key);
      destinations.set(key, destination);
      for (const [oldestKey, oldest] of destinations) {
        if (destinations.size <= limits.maxDestinations) break;
        destinations.delete(oldestKey);
        retire(oldest);
      }
      let state: "new" | "waiting" | "holding" | "released" = "new";
      let waiter: ((socket: Socket | undefined) => void) | undefined;
      return {
        take() {
          if (state !== "new") return Promise.reject(new Error("take() once per lease"));
          // The most recently parked first. One closed under us without an event yet is dropped: not worth a
          // request that would fail and be sent again.
          let idle = destination.idle.at(-1);
          while (idle && (idle.socket.destroyed || !idle.socket.writable)) {
            idle.drop();
            idle = destination.idle.at(-1);
          }
          if (idle) {
            destination.idle.pop();
            state = "holding";
            return Promise.resolve(lend(idle));
          }
          if (destination.open < limits.maxSocketsPerDestination) {
            destination.open += 1;
            state = "holding";
            return Promise.resolve(undefined);
          }
          state = "waiting";
          return new Promise<Socket | undefined>((resolve) => {
            waiter = (socket) => {
              state = "holding";
              resolve(socket);
            };
            destination.waiters.push(waiter);
          });
        },
        release(socket, keepMs) {
          if (state === "released") return;
          const held = state === "holding";
          state = "released";
          if (!held) {
            const index = waiter ? destination.waiters.indexOf(waiter) : -1;
            if (index !== -1) destination.waiters.splice(index, 1);
            socket?.destroy();
            return;
          }
          const reusable = keepMs !== undefined && keepMs > 0 && socket !== undefined && !socket.destroyed && !destination.retired;
          if (reusable) {
            const next = destination.waiters.shift();
            if (next) {
              next(socket);
              return;
            }
            if (destination.idle.length < limits.maxIdleSocketsPerDestination) {
              park(destination, socket, Math.min(keepMs, limits.idleTimeoutMs));
              return;
            }
          }
          socket?.destroy();
          freeSlot(destination);
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
