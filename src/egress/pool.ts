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
 *
 * Fair between owners, because tenants share destinations: two organizations' subscriptions on one receiver host
 * borrow from the same destination, and a request waiting for a socket counts against its own total timeout. One
 * owner (an organization) whose receiver hangs until the timeout, with a high concurrency, could otherwise hold
 * every socket of the destination, so that every other owner's deliveries to that host waited, timed out and
 * failed. So an owner holds at most `maxSocketsPerDestination` less a quarter of it (the last quarter is always
 * left to the others; below 4 sockets there is no quarter to keep, and no cap), and a socket that comes free goes
 * to the waiting owner that holds the fewest sockets of the destination (the oldest request among equals), never
 * to one at its cap. An owner alone still uses three quarters of the sockets, and a quiet destination pays
 * nothing for it: without waiters, taking and releasing stay constant-time; with waiters, a hand-out scans them
 * once (they are bounded by the requests in flight).
 */
import { createHash } from "node:crypto";
import type { Socket } from "node:net";
import type { ResolvedAddress } from "./resolver.ts";

export interface ConnectionPoolLimits {
  /**
   * Connections open at once to one destination; further requests wait for one within their total timeout. One
   * owner holds at most this less a quarter of it (ownerCap).
   */
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
   * Waits while the destination has `maxSocketsPerDestination` connections open, or while the lease's owner holds
   * its cap of them (ownerCap), even with slots free.
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
  /**
   * `owner`: whom the request is for (an organization id, or "instance" for the instance's own requests); the
   * destination's connections are shared fairly between owners (see above).
   */
  lease(destination: PinnedDestination, owner: string): PoolLease;
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

interface Waiter {
  owner: string;
  /** Hands the waiter a slot (`undefined`: it opens the connection) or an idle connection; the slot is already counted. */
  hand: (socket: Socket | undefined) => void;
}

interface Destination {
  /** Connections open: lent and idle (and slots of connections being opened). */
  open: number;
  /** Slots held per owner: lent connections and connections being opened, not idle ones. No entry: none held. */
  held: Map<string, number>;
  idle: Idle[];
  /** Oldest first. A waiter is only ever left waiting with a slot free or a connection idle when its owner is at its cap. */
  waiters: Waiter[];
  retired: boolean;
}

/**
 * The most slots of one destination one owner may hold: all but the last quarter, which stays available to other
 * owners. Below 4 slots a quarter is none, and one owner may hold them all.
 *
 * @example
 * ownerCap(256); // 192
 * ownerCap(3); // 3
 */
export function ownerCap(maxSocketsPerDestination: number): number {
  return maxSocketsPerDestination - Math.floor(maxSocketsPerDestination / 4);
}

function heldBy(destination: Destination, owner: string): number {
  return destination.held.get(owner) ?? 0;
}

function hold(destination: Destination, owner: string): void {
  destination.held.set(owner, heldBy(destination, owner) + 1);
}

/** Owners holding nothing lose their entry, so the map only ever names owners with a request out. */
function unhold(destination: Destination, owner: string): void {
  const count = heldBy(destination, owner) - 1;
  if (count > 0) destination.held.set(owner, count);
  else destination.held.delete(owner);
}

/**
 * Removes and returns the waiter a freed slot or connection goes to: the one whose owner holds the fewest slots of
 * the destination, the oldest among equals, never one whose owner is at `cap`. Constant-time without waiters.
 */
function takeNextWaiter(destination: Destination, cap: number): Waiter | undefined {
  const { waiters } = destination;
  let best = -1;
  let bestHeld = cap;
  let index = 0;
  for (const waiter of waiters) {
    const count = heldBy(destination, waiter.owner);
    // Strictly fewer: an equal count later in the queue is a younger request, and the older one keeps its turn.
    if (count < bestHeld) {
      best = index;
      bestHeld = count;
      if (count === 0) break;
    }
    index += 1;
  }
  return best === -1 ? undefined : waiters.splice(best, 1)[0];
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
 * const lease = pool.lease({ secure: true, hostname: "hooks.example", port: 443, addresses: checked }, orgId);
 * const socket = (await lease.take()) ?? (await connectPinned(...));
 * // ... one exchange ..., then: lease.release(socket, responseEndedCleanly ? 4000 : undefined)
 * await pool.close();
 */
export function createConnectionPool(limits: ConnectionPoolLimits): ConnectionPool {
  const cap = ownerCap(limits.maxSocketsPerDestination);
  const destinations = new Map<string, Destination>();
  const draining = new Set<Destination>();
  let drained: (() => void)[] = [];

  const settleIfDrained = (): void => {
    if (draining.size > 0) return;
    for (const resolve of drained) resolve();
    drained = [];
  };

  const settleIfRetiredAndEmpty = (destination: Destination): void => {
    if (!destination.retired || destination.open > 0) return;
    draining.delete(destination);
    settleIfDrained();
  };

  const lend = (idle: Idle): Socket => {
    idle.unwatch();
    idle.socket.ref();
    return idle.socket;
  };

  /** Closes an idle connection and frees its slot, without handing the slot on (the caller does). */
  const closeIdle = (destination: Destination, idle: Idle): boolean => {
    const index = destination.idle.indexOf(idle);
    if (index === -1) return false;
    destination.idle.splice(index, 1);
    idle.unwatch();
    idle.socket.destroy();
    destination.open -= 1;
    return true;
  };

  /**
   * The most recently parked idle connection, left in place, or `undefined`. Ones closed under us without an event
   * yet are closed on the way (their slots come free): not worth a request that would fail and be sent again.
   */
  const freshestIdle = (destination: Destination): Idle | undefined => {
    if (destination.retired) return undefined;
    let idle = destination.idle.at(-1);
    while (idle && (idle.socket.destroyed || !idle.socket.writable)) {
      closeIdle(destination, idle);
      idle = destination.idle.at(-1);
    }
    return idle;
  };

  /**
   * Hands what is free, an idle connection first and otherwise a slot, to the waiters it may go to (takeNextWaiter),
   * counted as their owners' before they resume. Ends when nothing is free or every waiter left is at its cap.
   */
  const serveWaiters = (destination: Destination): void => {
    while (destination.waiters.length > 0) {
      const idle = freshestIdle(destination);
      if (!idle && destination.open >= limits.maxSocketsPerDestination) return;
      const waiter = takeNextWaiter(destination, cap);
      if (!waiter) return;
      hold(destination, waiter.owner);
      if (idle) {
        destination.idle.pop();
        waiter.hand(lend(idle));
      } else {
        destination.open += 1;
        waiter.hand(undefined);
      }
    }
  };

  /** A slot was freed: a waiter may open a connection in it. */
  const freeSlot = (destination: Destination): void => {
    destination.open -= 1;
    serveWaiters(destination);
    settleIfRetiredAndEmpty(destination);
  };

  const park = (destination: Destination, socket: Socket, keepMs: number): void => {
    const onEvent = (): void => drop();
    const unwatch = (): void => {
      clearTimeout(timer);
      for (const event of ["close", "end", "data", "error"]) socket.removeListener(event, onEvent);
    };
    const drop = (): void => {
      if (!closeIdle(destination, idle)) return;
      serveWaiters(destination);
      settleIfRetiredAndEmpty(destination);
    };
    const timer = setTimeout(drop, keepMs);
    timer.unref?.();
    const idle: Idle = { socket, unwatch, drop };
    // Closed by the server, or sent bytes while no request was out: not fit for the next request.
    for (const event of ["close", "end", "data", "error"]) socket.on(event, onEvent);
    socket.unref();
    destination.idle.push(idle);
  };

  const retire = (destination: Destination): void => {
    destination.retired = true;
    for (const idle of [...destination.idle]) idle.drop();
    if (destination.open > 0) draining.add(destination);
  };

  return {
    lease(pinned, owner) {
      const key = destinationKey(pinned);
      const destination: Destination = destinations.get(key) ?? { open: 0, held: new Map(), idle: [], waiters: [], retired: false };
      destinations.delete(key);
      destinations.set(key, destination);
      for (const [oldestKey, oldest] of destinations) {
        if (destinations.size <= limits.maxDestinations) break;
        destinations.delete(oldestKey);
        retire(oldest);
      }
      let state: "new" | "waiting" | "holding" | "released" = "new";
      let waiter: Waiter | undefined;
      return {
        take() {
          if (state !== "new") return Promise.reject(new Error("take() once per lease"));
          // At its cap the owner waits even with a connection idle or a slot free: those are the other owners' quarter.
          // Otherwise nobody else can want them: a waiter is only left waiting beside them when it is at its cap.
          const mayHoldMore = heldBy(destination, owner) < cap;
          const idle = mayHoldMore ? freshestIdle(destination) : undefined;
          if (idle) {
            destination.idle.pop();
            hold(destination, owner);
            state = "holding";
            return Promise.resolve(lend(idle));
          }
          if (mayHoldMore && destination.open < limits.maxSocketsPerDestination) {
            destination.open += 1;
            hold(destination, owner);
            state = "holding";
            return Promise.resolve(undefined);
          }
          state = "waiting";
          return new Promise<Socket | undefined>((resolve) => {
            waiter = {
              owner,
              hand: (socket) => {
                state = "holding";
                resolve(socket);
              },
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
          // Counted down first: the owner's own waiters may be below its cap again, and in the running for this slot.
          unhold(destination, owner);
          const reusable = keepMs !== undefined && keepMs > 0 && socket !== undefined && !socket.destroyed && !destination.retired;
          if (reusable) {
            const next = takeNextWaiter(destination, cap);
            if (next) {
              hold(destination, next.owner);
              next.hand(socket);
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
