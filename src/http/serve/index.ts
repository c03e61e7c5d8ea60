/**
 * Starts an HTTP server for a fetch handler on whichever runtime we are on. Runtime-specific code lives only in
 * this folder (Bun.serve, Deno.serve, @hono/node-server for Node and vitest). TLS listeners go through node:tls
 * on every runtime (tls.ts), the one server that both verifies client certificates in every mode and tells the
 * request which certificate its connection presented.
 */
import type { ClientAuthMode } from "../listenerSettings.ts";
import type { ConnectionTimeouts } from "./timeouts.ts";
export interface HttpServer {
  readonly port: number;
  /** Stops accepting connections and waits for in-flight requests. */
  close(): Promise<void>;
}

/** What the server knows about the connection that the request itself does not say. */
export interface ConnectionInfo {
  clientIp: string;
  /** Subject of the client certificate the TLS handshake verified, on mutual TLS listeners. */
  clientIdentity?: string | undefined;
  /** Which listener took the request (see compose/listeners.ts); absent means the main one. */
  listener?: string | undefined;
}

export type FetchHandler = (request: Request, connection: ConnectionInfo) => Response | Promise<Response>;

/** PEM text of the server's certificate chain and key, and of the CAs that vouch for client certificates. */
export interface TlsServeOptions {
  cert: string;
  key: string;
  ca?: string | undefined;
  clientAuth: ClientAuthMode;
}

export interface ServeOptions {
  hostname: string;
  port: number;
  fetch: FetchHandler;
  tls?: TlsServeOptions | undefined;
  /** How long a client may keep the listener waiting; CONNECTION_TIMEOUTS (timeouts.ts) unless a test shortens them. */
  timeouts?: ConnectionTimeouts | undefined;
}

export function runtimeName(): "bun" | "deno" | "node" {
  if ("Bun" in globalThis) return "bun";
  if ("Deno" in globalThis) return "deno";
  return "node";
}

export async function serve(options: ServeOptions): Promise<HttpServer> {
  if (options.tls) return (await import("./tls.ts")).serveTls({ ...options, tls: options.tls });
  switch (runtimeName()) {
    case "bun":
      return (await import("./bun.ts")).serveWithBun(options);
    case "deno":
      return (await import("./deno.ts")).serveWithDeno(options);
    default:
      return (await import("./node.ts")).serveWithNode(options);
  }
}
