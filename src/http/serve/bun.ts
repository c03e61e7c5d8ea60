/// <reference types="bun-types" />
import type { HttpServer, ServeOptions } from "./index.ts";

export function serveWithBun(options: ServeOptions): HttpServer {
  const server = Bun.serve({ hostname: options.hostname, port: options.port, fetch: options.fetch, idleTimeout: 30 });
  return {
    port: server.port ?? options.port,
    close: () => server.stop(false),
  };
}
