/**
 * One HTTP/1.1 exchange over a connection pinned to addresses the policy already checked.
 *
 * The socket is opened to a checked address (connect.ts), never through a resolver, while the URL keeps its host
 * name for the Host header, TLS SNI and certificate verification. The request leaves as one buffer
 * (requestBytes.ts) and the answer is read by responseParser.ts, up to `maxResponseBytes` of body. With a pool
 * (pool.ts) a connection is reused only by requests whose check produced the same addresses; without one, every
 * exchange gets its own socket and asks the server to close it. No proxy setting applies: the socket goes to the
 * checked address and nowhere else.
 *
 * Why not `node:http`: on Bun its client cost ~0.09 CPU-ms per request against ~0.03 for these parts (16
 * keep-alive connections to a local receiver, same requests), and the worker's CPU per delivery is what limits
 * the delivery backlog once the database work is batched (README, Performance).
 */
import type { Socket } from "node:net";
import { connectPinned } from "./connect.ts";
import { EgressTimeoutError, errorCode } from "./errors.ts";
import type { ConnectionPool, PinnedDestination, PoolLease } from "./pool.ts";
import { requestBytes } from "./requestBytes.ts";
import type { ResolvedAddress } from "./resolver.ts";
import { ResponseParser, type ResponseHead } from "./responseParser.ts";

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
  pool?: PoolSeat | undefined;
}

/**
 * A pool and whom the exchange is for: the pool shares a destination's connections between owners (pool.ts), so
 * the owner goes wherever the pool does.
 */
export interface PoolSeat {
  connections: ConnectionPool;
  /** The organization the request is made for, or "instance" for the instance's own requests. */
  owner: string;
}

export type ExchangeOutcome =
  | { ok: true; status: number; headers: Record<string, string>; bodyExcerpt: string; bodyTruncated: boolean; remoteAddress: string }
  | { ok: false; error: unknown };

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

function destinationOf(exchange: PinnedExchange): PinnedDestination {
  const { url } = exchange;
  const secure = url.protocol === "https:";
  return {
    secure,
    hostname: url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port === "" ? (secure ? 443 : 80) : Number(url.port),
    addresses: exchange.addresses,
    trustedCertificates: exchange.trustedCertificates,
    clientCertificate: exchange.clientCertificate,
  };
}

/** What a server that closed an idle keep-alive connection looks like to the request that tried to reuse it. */
const staleSocketCodes = new Set(["ECONNRESET", "EPIPE", "HPE_INCOMPLETE"]);

/** How long a server that answered `Keep-Alive: timeout=N` lets the connection idle, less a second of margin. */
function keepAliveMs(headers: Record<string, string>): number | undefined {
  const match = /(?:^|[,;\s])timeout=(\d{1,6})(?:$|[,;\s])/i.exec(headers["keep-alive"] ?? "");
  return match ? Math.max(0, Number(match[1]) * 1000 - 1000) : undefined;
}

const TIMED_OUT = Symbol("timed out");

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

async function attempt(exchange: PinnedExchange, mayUsePool: boolean): Promise<Attempt> {
  const destination = destinationOf(exchange);
  const seat = mayUsePool ? exchange.pool : undefined;
  const lease: PoolLease | undefined = seat?.connections.lease(destination, seat.owner);
  let bytes: Buffer;
  try {
    bytes = requestBytes({ method: exchange.method, url: exchange.url, headers: exchange.headers, body: exchange.body, close: lease === undefined });
  } catch (error) {
    lease?.release(undefined);
    return { outcome: { ok: false, error }, staleSocket: false };
  }

  let timedOut: (() => void) | undefined;
  const totalTimer = setTimeout(() => timedOut?.(), Math.max(0, exchange.deadline - performance.now()));
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => (timedOut = () => resolve(TIMED_OUT)));
  const timedOutAttempt = (): Attempt => ({ outcome: { ok: false, error: new EgressTimeoutError("total", exchange.totalTimeoutMs) }, staleSocket: false });
  let socket: Socket | undefined;
  let settled = false;
  try {
    // Waiting for a free pooled connection counts against the total timeout, not the connect timeout.
    const taking = lease?.take();
    const taken = taking ? await Promise.race([taking, timeout]) : undefined;
    if (taken === TIMED_OUT) {
      // A connection handed over after we gave up is nobody's: close it (release, below, frees its slot).
      void taking?.then((late) => late?.destroy());
      return timedOutAttempt();
    }
    socket = taken;
    const reused = socket !== undefined;
    if (!socket) {
      const connecting = connectPinned(destination, exchange.connectTimeoutMs, exchange.deadline);
      const connected = await Promise.race([connecting, timeout]);
      if (connected === TIMED_OUT) {
        void connecting.then((late) => late.destroy(), () => undefined);
        return timedOutAttempt();
      }
      socket = connected;
    }
    const exchanged = await Promise.race([exchangeOn(socket, bytes, exchange, reused), timeout]);
    if (exchanged === TIMED_OUT) return timedOutAttempt();
    settled = true;
    if (lease) lease.release(socket, exchanged.keepMs);
    else socket.destroy();
    return exchanged;
  } catch (error) {
    return { outcome: { ok: false, error }, staleSocket: false };
  } finally {
    clearTimeout(totalTimer);
    if (!settled) {
      socket?.destroy();
      lease?.release(socket);
    }
  }
}

/** The request written to `socket` and its answer read; `keepMs` set when the socket may carry another request. */
function exchangeOn(socket: Socket, bytes: Buffer, exchange: PinnedExchange, reused: boolean): Promise<Attempt & { keepMs?: number }> {
  return new Promise((resolve) => {
    let head: ResponseHead | undefined;
    const chunks: Buffer[] = [];
    let kept = 0;
    let done = false;
    const remoteAddress = socket.remoteAddress ?? exchange.addresses[0]?.address ?? "";

    const finish = (result: Attempt & { keepMs?: number }): void => {
      if (done) return;
      done = true;
      socket.removeListener("data", onData);
      socket.removeListener("end", onEnd);
      socket.removeListener("close", onEnd);
      socket.removeListener("error", onError);
      resolve(result);
    };
    const succeed = (bodyTruncated: boolean, reusable: boolean): void => {
      if (!head) return;
      const body = Buffer.concat(chunks);
      finish({
        outcome: { ok: true, status: head.status, headers: head.headers, bodyExcerpt: bodyTruncated ? decodeExcerpt(body) : body.toString("utf8"), bodyTruncated, remoteAddress },
        staleSocket: false,
        ...(reusable && !bodyTruncated ? { keepMs: keepAliveMs(head.headers) ?? Number.POSITIVE_INFINITY } : {}),
      });
    };
    const fail = (error: unknown): void => {
      const staleSocket = reused && !parser.started && staleSocketCodes.has(errorCode(error));
      finish({ outcome: { ok: false, error }, staleSocket });
    };
    const parser = new ResponseParser({ maxHeaderBytes: exchange.maxHeaderBytes, bodyless: exchange.method === "HEAD" }, {
      head: (value) => (head = value),
      body: (piece) => {
        if (done) return;
        const room = exchange.maxResponseBytes - kept;
        if (piece.length <= room) {
          chunks.push(Buffer.from(piece));
          kept += piece.length;
          return;
        }
        // Full and one more byte arrived: truncated. Stop reading; the connection cannot carry another request.
        if (room > 0) chunks.push(Buffer.from(piece.subarray(0, room)));
        kept = exchange.maxResponseBytes;
        succeed(true, false);
      },
      done: (reusable) => succeed(false, reusable),
    });
    const onData = (chunk: Buffer): void => {
      try {
        parser.push(chunk);
      } catch (error) {
        fail(error);
      }
    };
    const onEnd = (): void => {
      try {
        parser.end();
      } catch (error) {
        fail(error);
      }
    };
    const onError = (error: unknown): void => fail(error);
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("close", onEnd);
    socket.on("error", onError);
    socket.write(bytes);
  });
}

