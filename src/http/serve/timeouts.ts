/**
 * How long a client may keep a listener waiting, in one place for every listener. Bun.serve's plain listeners take
 * `idleMs` as their `idleTimeout` and keep uWebSockets' own fixed 10 s for a request head; the TLS listeners
 * (tls.ts) keep both themselves, so no door holds a silent client longer than another. Without them a TLS door
 * kept a connection that never sent a byte for as long as its client liked: one client opened 4,000 and held
 * them, the process's descriptors shared with the API, the worker and Postgres.
 */
export interface ConnectionTimeouts {
  /** A new connection's TLS handshake, and then its first request head, must each be complete within this. */
  headMs: number;
  /**
   * A connection silent this long is closed, unless a request on it is still being answered (the request timeout,
   * http/limits.ts, ends those: 408 for a body that stopped arriving). Also how long a kept-alive connection has
   * to send its next request head, complete.
   */
  idleMs: number;
}

/** The values every listener of the service runs with; tests shorten them through `ServeOptions.timeouts`. */
export const CONNECTION_TIMEOUTS: Readonly<ConnectionTimeouts> = Object.freeze({ headMs: 10_000, idleMs: 30_000 });
