/// <reference types="bun-types" />
import type { HttpServer, ServeOptions } from "./index.ts";

export function serveWithBun(options: ServeOptions): HttpServer {
  const server = Bun.serve({
    hostname: options.hostname,
    port: options.port,
    idleTimeout: 30,
    fetch: (request, bun) => options.fetch(request, { clientIp: bun.requestIP(request)?.address ?? "" }),
  });
  return {
    port: server.port ?? options.port,
    close: () => server.stop(false),
  };
}
