import type { HttpServer, ServeOptions } from "./index.ts";

/** The slice of Deno's API we use; declared here so type-checking does not need Deno's own types. */
interface DenoServer {
  addr: { port: number };
  shutdown(): Promise<void>;
}
interface DenoGlobal {
  serve(
    options: { hostname: string; port: number; onListen?: () => void; cert?: string; key?: string },
    handler: (request: Request, info: { remoteAddr: { hostname: string } }) => Response | Promise<Response>,
  ): DenoServer;
}

/** Thrown for a TLS setting this runtime cannot honour; the caller names the setting. */
export class UnsupportedTlsError extends Error {
  override readonly name = "UnsupportedTlsError";
}

/**
 * Deno.serve terminates TLS with a certificate and key, but has no option to ask for or verify a client
 * certificate: a client-auth mode other than none stops start-up rather than silently serving without it.
 */
export function serveWithDeno(options: ServeOptions): HttpServer {
  const deno = (globalThis as unknown as { Deno: DenoGlobal }).Deno;
  if (options.tls && options.tls.clientAuth !== "none") {
    throw new UnsupportedTlsError(`client-auth mode ${options.tls.clientAuth} is not available on Deno (Deno.serve cannot verify client certificates); run on Bun or Node, or terminate mutual TLS in front of hookledger`);
  }
  const tls = options.tls ? { cert: options.tls.cert, key: options.tls.key } : {};
  const server = deno.serve({ hostname: options.hostname, port: options.port, onListen: () => undefined, ...tls }, (request, info) =>
    options.fetch(request, { clientIp: info.remoteAddr.hostname }),
  );
  return { port: server.addr.port, close: () => server.shutdown() };
}
