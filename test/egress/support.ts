/**
 * Loopback-only fixtures for the egress tests: an HTTP server with misbehaving routes, and resolvers that
 * count their calls. Nothing here ever talks to an address other than 127.0.0.1.
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
  /** Every request the server saw, in order. */
  seen: { method: string; url: string; host: string; body: string; remoteAddress: string }[];
  /** Connections accepted, whether or not a request followed. */
  connections: () => number;
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

export async function startTestServer(): Promise<TestServer> {
  const seen: TestServer["seen"] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  let closedEarly = 0;
  const server = http.createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", "http://placeholder");
    const body = await readBody(request);
    seen.push({ method: request.method ?? "", url: request.url ?? "", host: request.headers.host ?? "", body, remoteAddress: request.socket.remoteAddress ?? "" });
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
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    connections: () => connections,
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
