/**
 * Loopback-only fixtures for the egress tests: an HTTP server with misbehaving routes, a hand-written HTTP/1.1
 * server that decides when a kept-alive connection dies, and resolvers that count their calls. Nothing here ever
 * talks to an address outside 127.0.0.0/8.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";
import { defaultEgressPolicy, type EgressPolicy } from "../../src/egress/policy.ts";
import type { ResolvedAddress, Resolver } from "../../src/egress/resolver.ts";

/** Dev/test policy: loopback allowed, plain http, short limits so failures show up fast. */
export const loopbackPolicy: EgressPolicy = {
  ...defaultEgressPolicy,
  httpsOnly: false,
  allowLoopback: true,
  connectTimeoutMs: 1_000,
  timeoutMs: 3_000,
  maxResponseBytes: 1_024,
};

export interface TestServer {
  port: number;
  /** The loopback address it listens on. */
  host: string;
  /** Every request the server saw, in order. */
  seen: { method: string; url: string; host: string; body: string; remoteAddress: string }[];
  /** Connections accepted, whether or not a request followed. */
  connections: () => number;
  /** Connections accepted and not closed yet. */
  openConnections: () => number;
  /** Request headers as received, in order. */
  headers: http.IncomingHttpHeaders[];
  closedEarly: () => number;
  close: () => Promise<void>;
}

function readBody(request: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

/** `host` and `port` let two servers share a port on different loopback addresses (one name, two answers). */
export async function startTestServer(listen: { host?: string; port?: number } = {}): Promise<TestServer> {
  const host = listen.host ?? "127.0.0.1";
  const seen: TestServer["seen"] = [];
  const headers: http.IncomingHttpHeaders[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  let closedEarly = 0;
  const server = http.createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", "http://placeholder");
    const body = await readBody(request);
    seen.push({ method: request.method ?? "", url: request.url ?? "", host: request.headers.host ?? "", body, remoteAddress: request.socket.remoteAddress ?? "" });
    headers.push(request.headers);
    const path = url.pathname;
    if (path === "/echo") {
      response.writeHead(201, { "content-type": "application/json", "x-test": "yes", "set-cookie": ["a=1", "b=2"] });
      response.end(JSON.stringify({ method: request.method, host: request.headers.host, body, contentType: request.headers["content-type"] ?? null }));
    } else if (path === "/redirect") {
      response.writeHead(Number(url.searchParams.get("status") ?? 302), { location: url.searchParams.get("to") ?? "/echo" });
      response.end("moved");
    } else if (path === "/loop") {
      response.writeHead(302, { location: "/loop" });
      response.end();
    } else if (path === "/dribble") {
      // An endless body, 100 bytes every 5 ms: only a client that stops reading gets out before its timeout.
      response.writeHead(200, { "content-type": "text/plain" });
      const timer = setInterval(() => response.write("x".repeat(100)), 5);
      response.on("close", () => {
        clearInterval(timer);
        if (!response.writableFinished) closedEarly += 1;
      });
    } else if (path === "/flood") {
      response.writeHead(200, { "content-type": "text/plain" });
      response.end("y".repeat(4 * 1024 * 1024));
    } else if (path === "/exact") {
      response.end("z".repeat(Number(url.searchParams.get("bytes") ?? 0)));
    } else if (path === "/utf8") {
      response.end(url.searchParams.get("text") ?? "");
    } else if (path === "/big-headers") {
      response.writeHead(200, { "x-big": "h".repeat(40_000) });
      response.end("ok");
    } else if (path === "/slow") {
      setTimeout(() => response.end("late"), Number(url.searchParams.get("ms") ?? 500));
    } else if (path === "/hang") {
      // Never answers; the client's timer has to end the exchange.
    } else {
      response.writeHead(404);
      response.end();
    }
  });
  server.on("connection", (socket: net.Socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port ?? 0, host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    host,
    seen,
    headers,
    connections: () => connections,
    openConnections: () => sockets.size,
    closedEarly: () => closedEarly,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

/** A TCP listener that accepts connections and never says a word: a TLS handshake to it never completes. */
export async function startSilentServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

export interface RawServer {
  port: number;
  connections: () => number;
  /** Requests read, including the ones answered by a reset. */
  requests: () => number;
  /** Each request's head as received (request line and header lines). */
  heads: string[];
  close: () => Promise<void>;
}

/**
 * A bare HTTP/1.1 server that answers `200 ok` and keeps the connection, sending no `Keep-Alive` hint (so the
 * client cannot see its idle limit coming). `resetRequest: n` drops the connection instead of answering its n-th
 * request (1-based), as a server does when it closes an idle connection just as our request arrives;
 * `idleCloseMs` closes a connection that has been idle that long. `answer` replaces the `200 ok` with raw bytes
 * chosen from the request (its head, as received): `end` closes the connection after them.
 */
export async function startRawServer(behaviour: {
  resetRequest?: number;
  idleCloseMs?: number;
  answer?: (head: string, body: string) => { bytes: string; end?: boolean };
}): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  let requests = 0;
  const heads: string[] = [];
  const server = net.createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let onThisConnection = 0;
    let pending = Buffer.alloc(0);
    let idleTimer: ReturnType<typeof setTimeout> | undefined;
    const armIdleTimer = (): void => {
      if (behaviour.idleCloseMs !== undefined) idleTimer = setTimeout(() => socket.end(), behaviour.idleCloseMs);
    };
    socket.on("data", (chunk: Buffer) => {
      clearTimeout(idleTimer);
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const headEnd = pending.indexOf("\r\n\r\n");
        if (headEnd < 0) return;
        const head = pending.subarray(0, headEnd).toString("latin1");
        const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
        if (pending.length < headEnd + 4 + length) return;
        const body = pending.subarray(headEnd + 4, headEnd + 4 + length).toString("utf8");
        pending = pending.subarray(headEnd + 4 + length);
        heads.push(head);
        requests += 1;
        onThisConnection += 1;
        if (onThisConnection === behaviour.resetRequest) {
          socket.destroy();
          return;
        }
        const answer = behaviour.answer?.(head, body) ?? { bytes: "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok" };
        if (answer.end) {
          socket.end(Buffer.from(answer.bytes, "latin1"));
          return;
        }
        socket.write(Buffer.from(answer.bytes, "latin1"));
        armIdleTimer();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    requests: () => requests,
    heads,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

/** A port nothing listens on: bind one, then release it. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface CountingResolver {
  resolver: Resolver;
  calls: string[];
}

/** Answers `answers[n]` on the n-th call (the last one thereafter) and records every name asked. */
export function scriptedResolver(...answers: ResolvedAddress[][]): CountingResolver {
  const calls: string[] = [];
  const resolver: Resolver = async (hostname) => {
    calls.push(hostname);
    return answers[Math.min(calls.length - 1, answers.length - 1)] ?? [];
  };
  return { resolver, calls };
}

export const v4 = (address: string): ResolvedAddress[] => [{ address, family: 4 }];

/** Answers each name from a fixed table, and nothing for any other name. */
export function resolverByName(table: Record<string, string>): Resolver {
  return async (hostname) => {
    const address = table[hostname];
    return address === undefined ? [] : v4(address);
  };
}
