import type { HttpServer, ServeOptions } from "./index.ts";

/** The slice of Deno's API we use; declared here so type-checking does not need Deno's own types. */
interface DenoServer {
  addr: { port: number };
  shutdown(): Promise<void>;
}
interface DenoGlobal {
  serve(
    options: { hostname: string; port: number; onListen?: () => void },
    handler: (request: Request, info: { remoteAddr: { hostname: string } }) => Response | Promise<Response>,
  ): DenoServer;
}

export function serveWithDeno(options: ServeOptions): HttpServer {
  const deno = (globalThis as unknown as { Deno: DenoGlobal }).Deno;
  const server = deno.serve({ hostname: options.hostname, port: options.port, onListen: () => undefined }, (request, info) =>
    options.fetch(request, { clientIp: info.remoteAddr.hostname }),
  );
  return { port: server.addr.port, close: () => server.shutdown() };
}
