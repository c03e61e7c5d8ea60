/**
 * A TLS listener on every runtime: node:tls terminates TLS and decides on the client certificate, then hands the
 * connection to a node:http server that runs the fetch handler.
 *
 * Why not the runtimes' own servers: Bun.serve's `tls` verifies client certificates only all-or-nothing
 * (requestCert with rejectUnauthorized) and tells the handler nothing about the certificate, Bun's node:https
 * sockets have no getPeerCertificate, and Deno.serve takes no client CA at all. node:tls sockets handed to a
 * node:http server have it on all three (checked on Node 20, Bun 1.4.5 and Deno 2.9.6).
 *
 * Client-auth modes, as Hookaido (and Go's crypto/tls) name them:
 *   none                no certificate asked for
 *   request             asked for, neither required nor checked
 *   require             required, but not checked
 *   verify_if_given     not required; one that is given must verify
 *   require_and_verify  required and verified (refused in the handshake)
 * Refusals after the handshake destroy the connection before any request on it is read. In every mode, only a
 * certificate that verifies against the client CA names the connection (its subject becomes `clientIdentity`).
 *
 * Connections are timed as on the plain listeners (timeouts.ts): the handshake and then the first request head
 * within `headMs`, the next head of a kept-alive connection within `idleMs`, and `idleMs` of silence closes a
 * connection that is not being answered.
 */
import { X509Certificate } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createSecureContext, createServer as createTlsServer, type PeerCertificate, type TLSSocket } from "node:tls";
import { getRequestListener } from "@hono/node-server";
import type { ClientAuthMode } from "../listenerSettings.ts";
import type { HttpServer, ServeOptions, TlsServeOptions } from "./index.ts";
import { CONNECTION_TIMEOUTS } from "./timeouts.ts";

/**
 * `CN=deploy-bot, O=Acme`: the subject's attributes in the order the certificate lists them. Read from the DER
 * bytes, because the parsed `subject` object lists them in a different order on Deno than on Node and Bun.
 */
function subjectOf(certificate: PeerCertificate): string | undefined {
  if (!certificate.raw) return undefined;
  try {
    const subject = new X509Certificate(certificate.raw).subject;
    return subject ? subject.split("\n").join(", ") : undefined;
  } catch {
    return undefined;
  }
}

const presentedCertificate = (socket: TLSSocket): boolean => {
  const certificate = socket.getPeerCertificate();
  return certificate !== null && typeof certificate === "object" && Object.keys(certificate).length > 0;
};

/** Whether a connection may send requests, once its handshake finished. */
function admitted(socket: TLSSocket, mode: ClientAuthMode): boolean {
  switch (mode) {
    case "none":
    case "request":
      return true;
    case "require":
      return presentedCertificate(socket);
    case "verify_if_given":
      return socket.authorized || !presentedCertificate(socket);
    case "require_and_verify":
      return socket.authorized;
  }
}

/** The verified client certificate's subject; unverified certificates name nobody. */
const identityOf = (socket: TLSSocket): string | undefined => (socket.authorized ? subjectOf(socket.getPeerCertificate()) : undefined);

/**
 * Which part of a listener's PEM material the TLS library refuses: the certificate and key (unparsable, or not a
 * pair), the client CA, or nothing. Checked at start-up, so the first client does not find out.
 *
 * @example
 * tlsMaterialProblem({ cert, key: otherKey }); // { part: "key", reason: "key values mismatch" }
 */
export function tlsMaterialProblem(material: { cert: string; key: string; ca?: string | undefined }): { part: "key" | "ca"; reason: string } | undefined {
  const reasonOf = (error: unknown) => (error instanceof Error ? (error.message.split("\n")[0] ?? "unreadable") : "unreadable");
  try {
    createSecureContext({ cert: material.cert, key: material.key });
  } catch (error) {
    return { part: "key", reason: reasonOf(error) };
  }
  if (material.ca === undefined) return undefined;
  try {
    createSecureContext({ ca: material.ca });
  } catch (error) {
    return { part: "ca", reason: reasonOf(error) };
  }
  return undefined;
}

/** One admitted connection: the responses being answered on it, and the deadline of the request head it waits for. */
interface Connection {
  socket: TLSSocket;
  answering: Set<ServerResponse>;
  headDeadline: ReturnType<typeof setTimeout> | undefined;
}

/**
 * (Re)starts the wait for a request head: a connection that sends none in time, or only part of one, is closed. A
 * deadline rather than an idle timer, so a client sending one header line every few seconds is closed too.
 */
function awaitRequestHead(connection: Connection, withinMs: number): void {
  clearTimeout(connection.headDeadline);
  connection.headDeadline = setTimeout(() => connection.socket.destroy(), withinMs);
}

/**
 * Closes the connection once nothing has moved on it for `idleMs`, except while a response is still being
 * produced: a request whose body stopped arriving is the request timeout's to end, with its 408 (http/limits.ts),
 * not a connection cut without an answer. On Node this also closes a client that stopped reading its answer; Bun's
 * node:tls reports no timeout while unsent data waits (checked on 1.4.5), so there such a client keeps its
 * connection until it reads on or goes away — which takes a complete request and an answer larger than the
 * socket buffers.
 */
function closeWhenIdle(connection: Connection, idleMs: number): void {
  connection.socket.setTimeout(idleMs);
  connection.socket.on("timeout", () => {
    for (const response of connection.answering) if (!response.writableEnded) return;
    connection.socket.destroy();
  });
}

export function serveTls(options: ServeOptions & { tls: TlsServeOptions }): Promise<HttpServer> {
  const { tls } = options;
  const timeouts = options.timeouts ?? CONNECTION_TIMEOUTS;
  const identities = new WeakMap<Socket, string>();
  // overrideGlobalObjects off: @hono/node-server would swap the global Response for its own, which Bun.serve (the
  // runtime's plain listeners, in the same process) refuses to send.
  const http = createHttpServer(
    getRequestListener((request, env) => {
      const socket = "incoming" in env ? env.incoming.socket : undefined;
      return options.fetch(request, { clientIp: socket?.remoteAddress ?? "", clientIdentity: socket ? identities.get(socket) : undefined });
    }, { overrideGlobalObjects: false }),
  );
  // The timers above are the connections' only ones. node:http's headersTimeout and requestTimeout are checked by
  // a sweep that starts only when its server listens, which this one never does (connections are handed to it);
  // its keep-alive timer would replace our idle timer between requests, then switch the socket's timer off at the
  // next request; and its own handling of a socket timeout destroys the connection while a body is still arriving.
  http.keepAliveTimeout = 0;
  http.on("timeout", () => undefined);
  // Keep-alive connections must not hold close() open: idle ones are ended when the server stops, busy ones once
  // their response is sent.
  const connections = new Map<Socket, Connection>();
  let closing = false;
  http.on("request", (request: IncomingMessage, response: ServerResponse) => {
    const connection = connections.get(request.socket);
    if (!connection) return;
    clearTimeout(connection.headDeadline);
    connection.answering.add(response);
    response.once("close", () => {
      connection.answering.delete(response);
      if (connection.answering.size > 0 || !connections.has(connection.socket)) return;
      if (closing) connection.socket.end();
      else awaitRequestHead(connection, timeouts.idleMs);
    });
  });
  const server = createTlsServer(
    {
      cert: tls.cert,
      key: tls.key,
      ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
      requestCert: tls.clientAuth !== "none",
      rejectUnauthorized: tls.clientAuth === "require_and_verify",
      // A deadline from the TCP connection on (bytes trickling in do not extend it, on Node and Bun alike): a client
      // that sends no ClientHello, or only part of one, is reported as a tlsClientError below.
      handshakeTimeout: timeouts.headMs,
    },
    (socket) => {
      if (!admitted(socket, tls.clientAuth)) {
        socket.destroy();
        return;
      }
      const identity = identityOf(socket);
      if (identity !== undefined) identities.set(socket, identity);
      const connection: Connection = { socket, answering: new Set(), headDeadline: undefined };
      connections.set(socket, connection);
      socket.once("close", () => {
        clearTimeout(connection.headDeadline);
        connections.delete(socket);
      });
      awaitRequestHead(connection, timeouts.headMs);
      closeWhenIdle(connection, timeouts.idleMs);
      http.emit("connection", socket);
    },
  );
  // A failed handshake (plain HTTP, an unknown CA, too slow) is the client's problem, not an error of the server.
  // Closed here: on a handshake timeout node:tls (Node and Bun alike) only reports it and leaves the socket open.
  server.on("tlsClientError", (_error: Error, socket: TLSSocket) => socket.destroy());
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            closing = true;
            server.close(() => done());
            for (const connection of connections.values()) if (connection.answering.size === 0) connection.socket.end();
          }),
      });
    });
  });
}
