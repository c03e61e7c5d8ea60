/**
 * One HTTP exchange over a connection pinned to addresses the policy already checked.
 *
 * Pinning uses `node:http(s).request` with a custom `lookup` that answers the checked addresses and never
 * resolves: the URL keeps its host name, so the Host header, TLS SNI and certificate verification all use the
 * name, while the socket can only reach a checked address. Verified on Node 20 and Bun 1.4 (the `lookup` is
 * called once, with `{ all: true }`, and its answer is the address connected to; an unresolvable name still
 * connects), see test/egress/client.test.ts and the tls test. With a pool (pool.ts) a connection is reused only by
 * requests whose check produced the same addresses; without one, every exchange gets its own socket, closed after
 * it. Neither runtime applies HTTP(S)_PROXY to `node:http` (checked on Node 20 and Bun 1.4.5), so no proxy can take
 * resolution back from us; revisit if Node's opt-in NODE_USE_ENV_PROXY ever becomes the default.
 */
import http from "node:http";
import https from "node:https";
import type { LookupFunction, Socket } from "node:net";
import { EgressTimeoutError } from "./errors.ts";
import { parseIPAddress } from "./normalise.ts";
import type { ConnectionPool, PinnedDestination, PoolLease } from "./pool.ts";
import type { ResolvedAddress } from "./resolver.ts";

export interface PinnedExchange {
  url: URL;
  /** Checked addresses, in the order to try them; never empty. */
  addresses: readonly ResolvedAddress[];
  method: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
  connectTimeoutMs: number;
  /** `performance.now()` value after which the exchange is abandoned, shared by every hop of a request. */
  deadline: number;
  totalTimeoutMs: number;
  maxResponseBytes: number;
  maxHeaderBytes: number;
  /** PEM roots that replace the system store (private CAs, tests). */
  trustedCertificates?: string[] | undefined;
  /** PEM certificate and key presented to a server that asks for one (mutual TLS). */
  clientCertificate?: { cert: string; key: string } | undefined;
  /** Keep-alive connections to reuse; without it the exchange opens its own connection and closes it after. */
  pool?: ConnectionPool | undefined;
}

export type ExchangeOutcome =
  | { ok: true; status: number; headers: Record<string, string>; bodyExcerpt: string; bodyTruncated: boolean; remoteAddress: string }
  | { ok: false; error: unknown };

/** Headers the transport owns: letting a caller set them would desynchronise framing or the pinned Host. */
const transportHeaders = new Set(["host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade"]);

function pinnedLookup(addresses: readonly ResolvedAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    // Asynchronous on purpose: a synchronous callback fires socket events before http.request's caller has
    // attached its listeners.
    queueMicrotask(() => {
      if (options.all) callback(null, addresses.map((entry) => ({ address: entry.address, family: entry.family })));
      else callback(null, addresses[0]?.address ?? "", addresses[0]?.family ?? 4);
    });
  };
}

function flattenHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}

/**
 * Decodes a capped excerpt, dropping a multi-byte character the cap cut in half instead of ending with U+FFFD.
 *
 * @example
 * decodeExcerpt(Buffer.from("abcd€").subarray(0, 5)); // "abcd"
 */
export function decodeExcerpt(bytes: Buffer): string {
  let end = bytes.length;
  let back = 0;
  while (back < 3 && end - back - 1 >= 0 && ((bytes[end - back - 1] ?? 0) & 0xc0) === 0x80) back += 1;
  const lead = bytes[end - back - 1];
  if (lead !== undefined && lead >= 0xc0) {
    const expected = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    if (back + 1 < expected) end -= back + 1;
  }
  return bytes.subarray(0, end).toString("utf8");
}

function requestHeaders(exchange: PinnedExchange, pooled: boolean): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(exchange.headers)) {
    if (!transportHeaders.has(name.toLowerCase())) headers[name] = value;
  }
  if (exchange.body !== undefined) headers["content-length"] = String(exchange.body.byteLength);
  // A pooled request leaves Connection to the agent, which asks for keep-alive.
  if (!pooled) headers["connection"] = "close";
  return headers;
}

function destinationOf(exchange: PinnedExchange, hostname: string, port: number): PinnedDestination {
  return {
    secure: exchange.url.protocol === "https:",
    hostname,
    port,
    addresses: exchange.addresses,
    trustedCertificates: exchange.trustedCertificates,
    clientCertificate: exchange.clientCertificate,
  };
}

/** What a server that closed an idle keep-alive connection looks like to the request that tried to reuse it. */
const staleSocketCodes = new Set(["ECONNRESET", "EPIPE"]);

function errorCode(error: unknown): string {
  return typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : "";
}

interface Attempt {
  outcome: ExchangeOutcome;
  /** Failed on a reused connection, reset before a response arrived: the server may have been closing it. */
  staleSocket: boolean;
}

/**
 * Sends one request and reads at most `maxResponseBytes` of the answer. Never rejects: failures come back as
 * `{ ok: false, error }` for errors.ts to classify.
 *
 * The body cap is also where reading stops: once the excerpt is full and one more byte has arrived we know it
 * is truncated and close the socket. Draining further would let a slow, endless body hold a worker until the
 * total timeout, and a connection left mid-body can never carry another request anyway.
 *
 * A request that fails on a reused connection, reset before a response arrived, is sent once more on a fresh,
 * unpooled connection. That is the race every keep-alive client has: the server closes an idle connection just as
 * we write to it. Whether the server read the request before resetting cannot be known from this side (the bytes
 * were handed to the kernel either way), so "the request was not written" is not something we can test; what we
 * can test is "no response arrived on a connection the server may have been closing". Sending again is safe for
 * what this client carries: deliveries are at least once and receivers deduplicate by the event id, and the
 * attempt we save would otherwise fail and be retried by the delivery schedule with the same id anyway, only
 * later. Fresh connections and our own timeouts are never retried.
 *
 * @example
 * const outcome = await exchangePinned({ url: new URL("http://hooks.test:8080/"), addresses: [{ address: "127.0.0.1", family: 4 }],
 *   method: "POST", headers: {}, body: undefined, connectTimeoutMs: 1000, deadline: performance.now() + 5000,
 *   totalTimeoutMs: 5000, maxResponseBytes: 1024, maxHeaderBytes: 16384 });
 */
export async function exchangePinned(exchange: PinnedExchange): Promise<ExchangeOutcome> {
  const first = await attempt(exchange, true);
  if (!first.staleSocket || performance.now() >= exchange.deadline) return first.outcome;
  return (await attempt(exchange, false)).outcome;
}

function attempt(exchange: PinnedExchange, mayUsePool: boolean): Promise<Attempt> {
  const { url, addresses } = exchange;
  const secure = url.protocol === "https:";
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port);
  // SNI carries names only, never addresses (RFC 6066 §3).
  const isLiteral = parseIPAddress(hostname) !== undefined;
  const lease: PoolLease | undefined = mayUsePool ? exchange.pool?.lease(destinationOf(exchange, hostname, port)) : undefined;
  let remoteAddress = addresses[0]?.address ?? "";

  return new Promise<Attempt>((resolve) => {
    let settled = false;
    let reused = false;
    let answered = false;
    let connection: Socket | undefined;
    const timers: ReturnType<typeof setTimeout>[] = [];
    let request: http.ClientRequest | undefined;
    /** `complete`: the response was read to its end, so a pooled connection may carry the next request. */
    const finish = (outcome: ExchangeOutcome, complete = false): void => {
      if (settled) return;
      settled = true;
      for (const timer of timers) clearTimeout(timer);
      if (!complete || !lease) request?.destroy();
      lease?.release(connection);
      const staleSocket = !outcome.ok && reused && !answered && staleSocketCodes.has(errorCode(outcome.error));
      resolve({ outcome, staleSocket });
    };
    const remaining = Math.max(0, exchange.deadline - performance.now());
    timers.push(setTimeout(() => finish({ ok: false, error: new EgressTimeoutError("total", exchange.totalTimeoutMs) }), remaining));

    const options: https.RequestOptions = {
      protocol: url.protocol,
      hostname,
      port,
      path: `${url.pathname}${url.search}`,
      method: exchange.method,
      headers: requestHeaders(exchange, lease !== undefined),
      agent: lease?.agent ?? false,
      lookup: pinnedLookup(addresses),
      maxHeaderSize: exchange.maxHeaderBytes,
      ...(secure && !isLiteral ? { servername: hostname } : {}),
      ...(secure && exchange.trustedCertificates ? { ca: exchange.trustedCertificates } : {}),
      ...(secure && exchange.clientCertificate ? { cert: exchange.clientCertificate.cert, key: exchange.clientCertificate.key } : {}),
    };

    try {
      request = (secure ? https : http).request(options, (response) => {
        answered = true;
        const chunks: Buffer[] = [];
        let kept = 0;
        const succeed = (bodyTruncated: boolean): void => finish({
          ok: true,
          status: response.statusCode ?? 0,
          headers: flattenHeaders(response.headers),
          bodyExcerpt: bodyTruncated ? decodeExcerpt(Buffer.concat(chunks)) : Buffer.concat(chunks).toString("utf8"),
          bodyTruncated,
          remoteAddress,
        }, !bodyTruncated);
        response.on("data", (chunk: Buffer) => {
          const room = exchange.maxResponseBytes - kept;
          if (chunk.length <= room) {
            chunks.push(chunk);
            kept += chunk.length;
            return;
          }
          if (room > 0) chunks.push(chunk.subarray(0, room));
          kept = exchange.maxResponseBytes;
          succeed(true);
        });
        response.on("end", () => succeed(false));
        response.on("error", (error) => finish({ ok: false, error }));
        response.on("close", () => {
          if (!response.complete) finish({ ok: false, error: Object.assign(new Error("response aborted"), { code: "ECONNRESET" }) });
        });
      });
    } catch (error) {
      finish({ ok: false, error });
      return;
    }
    request.on("socket", (socket: Socket) => {
      connection = socket;
      if (settled) return;
      // `reusedSocket` alone is not enough: Bun 1.4 reports false for a pooled socket handed to a request that was
      // queued for a free one; a connect listener on it never fires and piles up (11 per socket in the bench).
      if (request?.reusedSocket || !socket.connecting) {
        // Already connected (and checked, see pool.ts): there is no connect phase to time.
        reused = true;
        if (socket.remoteAddress) remoteAddress = socket.remoteAddress;
        return;
      }
      // Timed from here, not from the request: waiting for a free pooled connection is not connecting.
      const connectTimer = setTimeout(
        () => finish({ ok: false, error: new EgressTimeoutError("connect", exchange.connectTimeoutMs) }),
        Math.min(exchange.connectTimeoutMs, Math.max(0, exchange.deadline - performance.now())),
      );
      timers.push(connectTimer);
      socket.once(secure ? "secureConnect" : "connect", () => {
        clearTimeout(connectTimer);
        if (socket.remoteAddress) remoteAddress = socket.remoteAddress;
      });
    });
    request.on("error", (error) => finish({ ok: false, error }));
    request.end(exchange.body === undefined ? undefined : Buffer.from(exchange.body));
  });
}
