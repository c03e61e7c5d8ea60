/**
 * TLS listeners time their connections out as the plain ones do (src/http/serve/timeouts.ts), over real sockets:
 * a TCP connection that never starts the handshake, half a ClientHello, a handshake followed by nothing, and a
 * request head sent a line at a time are all closed by the server; a kept-alive connection is reused within the
 * idle time and closed after it; a request whose body stalls is still answered (408) rather than cut off; a client
 * that stops reading a large answer is closed (Node). Before, all of these stayed open for as long as the client
 * liked.
 *
 * A listener with short timeouts for the rules, and the real app's TLS listener for the production values.
 */
import { connect as connectTcp, type Socket } from "node:net";
import { connect as connectTls, type TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type HttpServer } from "../../src/http/serve/index.ts";
import { CONNECTION_TIMEOUTS, type ConnectionTimeouts } from "../../src/http/serve/timeouts.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { hasOpenssl, httpsCall, mintTestPki, type TestPki } from "../support/tlsClient.ts";

let pki: TestPki;

beforeAll(() => {
  if (hasOpenssl) pki = mintTestPki();
});
afterAll(() => {
  pki?.remove();
});

/** The header of a TLS handshake record of 16 KB (a ClientHello), whose content never all arrives. */
const HALF_CLIENT_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00]);

/** Milliseconds from now until the server closed `socket` (the client saw it end or close), or a rejection after `withinMs`. */
function closedByServer(socket: Socket, withinMs: number): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server left the connection open for ${withinMs} ms`));
    }, withinMs);
    const closed = () => {
      clearTimeout(timer);
      resolve(performance.now() - started);
    };
    socket.once("end", closed);
    socket.once("close", closed);
    socket.on("error", () => undefined);
  });
}

const rawConnection = (port: number): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const socket = connectTcp(port, "127.0.0.1", () => resolve(socket));
    socket.once("error", reject);
  });

/** A completed handshake, with the client certificate the test CA verifies. */
const tlsConnection = (port: number): Promise<TLSSocket> =>
  new Promise((resolve, reject) => {
    const socket = connectTls({ port, host: "127.0.0.1", ca: pki.pem("ca.pem"), cert: pki.pem("client.pem"), key: pki.pem("client.key") }, () => resolve(socket));
    socket.once("error", reject);
  });

/** The next complete answer on `socket` (head and a Content-Length body): its status line and body. */
function nextAnswer(socket: Socket): Promise<{ status: string; body: string }> {
  return new Promise((resolve, reject) => {
    let received = "";
    const onData = (chunk: Buffer) => {
      received += chunk.toString("utf8");
      const headEnd = received.indexOf("\r\n\r\n");
      if (headEnd === -1) return;
      const head = received.slice(0, headEnd);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? "0");
      if (Buffer.byteLength(received.slice(headEnd + 4)) < length) return;
      socket.off("data", onData);
      resolve({ status: head.split("\r\n")[0] ?? "", body: received.slice(headEnd + 4) });
    };
    socket.on("data", onData);
    socket.once("close", () => reject(new Error(`closed before a complete answer: ${JSON.stringify(received.slice(0, 200))}`)));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An answer larger than the loopback socket buffers of both ends hold, so a client that does not read stalls it. */
const LARGE_ANSWER_BYTES = 16 * 1024 * 1024;

describe.skipIf(!hasOpenssl)("a TLS listener's timeouts", () => {
  const timeouts: ConnectionTimeouts = { headMs: 400, idleMs: 1500 };
  /** How long the handler of /stalled-body waits for its body before answering 408 itself, as limits.ts does. */
  const requestTimeoutMs = 2.5 * timeouts.idleMs;
  let server: HttpServer;

  beforeAll(async () => {
    server = await serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: pki.pem("server.pem"), key: pki.pem("server.key"), ca: pki.pem("ca.pem"), clientAuth: "verify_if_given" },
      timeouts,
      fetch: async (request, connection) => {
        const path = new URL(request.url).pathname;
        if (path === "/large") return new Response(new Uint8Array(LARGE_ANSWER_BYTES));
        if (path !== "/stalled-body") return Response.json({ identity: connection.clientIdentity ?? null });
        const body = await Promise.race([request.text(), sleep(requestTimeoutMs).then(() => undefined)]);
        return body === undefined ? new Response("the body did not arrive", { status: 408, headers: { connection: "close" } }) : new Response(body);
      },
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("closes a TCP connection that never starts the handshake", async () => {
    const socket = await rawConnection(server.port);
    const elapsed = await closedByServer(socket, 10_000);
    expect(elapsed).toBeGreaterThan(timeouts.headMs * 0.8);
  });

  it("closes a connection that sends half a ClientHello, even while it keeps sending a byte at a time", async () => {
    const socket = await rawConnection(server.port);
    socket.write(HALF_CLIENT_HELLO);
    const drip = setInterval(() => socket.writable && socket.write(Buffer.from([0x01])), 100);
    try {
      const elapsed = await closedByServer(socket, 10_000);
      expect(elapsed).toBeGreaterThan(timeouts.headMs * 0.8);
      expect(elapsed).toBeLessThan(timeouts.idleMs);
    } finally {
      clearInterval(drip);
    }
  });

  it("closes a connection that completes the handshake, with a verified certificate, and then sends nothing", async () => {
    const socket = await tlsConnection(server.port);
    const elapsed = await closedByServer(socket, 10_000);
    expect(elapsed).toBeGreaterThan(timeouts.headMs * 0.8);
  });

  it("closes a connection whose request head never completes, even while it keeps sending header lines", async () => {
    const socket = await tlsConnection(server.port);
    socket.write("POST /in/x HTTP/1.1\r\nHost: a\r\n");
    const drip = setInterval(() => socket.writable && socket.write("X-Slow: 1\r\n"), 100);
    try {
      // A deadline, not an idle timer: the drip would keep an idle timer from ever firing.
      const elapsed = await closedByServer(socket, 10_000);
      expect(elapsed).toBeLessThan(timeouts.idleMs);
    } finally {
      clearInterval(drip);
    }
  });

  it("answers requests, reuses a kept-alive connection within the idle time, and closes it once idle", async () => {
    const socket = await tlsConnection(server.port);
    const first = nextAnswer(socket);
    socket.write("GET /first HTTP/1.1\r\nHost: a\r\n\r\n");
    expect(await first).toEqual({ status: "HTTP/1.1 200 OK", body: JSON.stringify({ identity: "CN=deploy-bot, O=Acme" }) });
    // Longer than a request head may take on a new connection, shorter than the idle time.
    await sleep(timeouts.headMs * 2);
    const second = nextAnswer(socket);
    socket.write("GET /second HTTP/1.1\r\nHost: a\r\n\r\n");
    expect((await second).status).toBe("HTTP/1.1 200 OK");
    const elapsed = await closedByServer(socket, 10_000);
    expect(elapsed).toBeGreaterThan(timeouts.idleMs * 0.8);
  });

  it("answers a request whose body stalls longer than the idle time, instead of cutting it off", async () => {
    const socket = await tlsConnection(server.port);
    const answer = nextAnswer(socket);
    socket.write("POST /stalled-body HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\nab");
    expect(await answer).toEqual({ status: "HTTP/1.1 408 Request Timeout", body: "the body did not arrive" });
    await closedByServer(socket, 10_000);
  });

  // Node only: Bun's node:tls reports no timeout while unsent data waits (see closeWhenIdle in serve/tls.ts).
  it.skipIf("Bun" in globalThis)("closes a connection whose client stops reading its answer, once nothing moved for the idle time", async () => {
    const socket = await tlsConnection(server.port);
    socket.write("GET /large HTTP/1.1\r\nHost: a\r\n\r\n");
    socket.pause();
    await sleep(timeouts.idleMs * 3);
    let received = 0;
    socket.on("data", (chunk: Buffer) => (received += chunk.byteLength));
    socket.resume();
    await closedByServer(socket, 10_000);
    expect(received).toBeLessThan(LARGE_ANSWER_BYTES);
  });

  it("answers over an ordinary HTTPS client", async () => {
    const reply = await httpsCall(pki, `https://127.0.0.1:${server.port}/plain`, { client: "client" });
    expect(reply).toEqual({ status: 200, body: { identity: "CN=deploy-bot, O=Acme" } });
  });
});

describe.skipIf(!hasOpenssl)("the app's TLS listener, with the production timeouts", () => {
  let db: TestDatabase;
  let app: TestApp;
  let port = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db, {
      env: { HOOKLEDGER_TLS_CERT: pki.file("server.pem"), HOOKLEDGER_TLS_KEY: pki.file("server.key"), HOOKLEDGER_TLS_CLIENT_CA: pki.file("ca.pem"), HOOKLEDGER_TLS_CLIENT_AUTH: "verify_if_given" },
    });
    port = Number(new URL(app.listeners.find((listener) => listener.door === "main")?.url ?? "").port);
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  it("closes silent connections, before and after the handshake, within the plain listener's head time", async () => {
    const limit = CONNECTION_TIMEOUTS.headMs + 10_000;
    const [silent, halfHello, handshaken] = await Promise.all([
      rawConnection(port).then((socket) => closedByServer(socket, limit)),
      rawConnection(port).then((socket) => {
        socket.write(HALF_CLIENT_HELLO);
        return closedByServer(socket, limit);
      }),
      tlsConnection(port).then((socket) => closedByServer(socket, limit)),
    ]);
    for (const elapsed of [silent, halfHello, handshaken]) expect(elapsed).toBeGreaterThan(CONNECTION_TIMEOUTS.headMs * 0.8);
    expect((await httpsCall(pki, `https://127.0.0.1:${port}/health`, { client: "client" })).status).toBe(200);
  });
});
