/**
 * Starts an HTTP server for a fetch handler on whichever runtime we are on. Runtime-specific code lives only in
 * this folder (Bun.serve, Deno.serve, @hono/node-server for Node and vitest).
 */
export interface HttpServer {
  readonly port: number;
  /** Stops accepting connections and waits for in-flight requests. */
  close(): Promise<void>;
}

/** What the server knows about the connection that the request itself does not say. */
export interface ConnectionInfo {
  clientIp: string;
}

export type FetchHandler = (request: Request, connection: ConnectionInfo) => Response | Promise<Response>;

export interface ServeOptions {
  hostname: string;
  port: number;
  fetch: FetchHandler;
}

export function runtimeName(): "bun" | "deno" | "node" {
  if ("Bun" in globalThis) return "bun";
  if ("Deno" in globalThis) return "deno";
  return "node";
}

export async function serve(options: ServeOptions): Promise<HttpServer> {
  switch (runtimeName()) {
    case "bun":
      return (await import("./bun.ts")).serveWithBun(options);
    case "deno":
      return (await import("./deno.ts")).serveWithDeno(options);
    default:
      return (await import("./node.ts")).serveWithNode(options);
  }
}
