import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { HttpServer, ServeOptions } from "./index.ts";

export async function serveWithNode(options: ServeOptions): Promise<HttpServer> {
  return new Promise((resolve) => {
    const fetch = (request: Request, env: { incoming?: Pick<IncomingMessage, "socket"> }) =>
      options.fetch(request, { clientIp: env.incoming?.socket?.remoteAddress ?? "" });
    const server = serve({ fetch, hostname: options.hostname, port: options.port }, (info: AddressInfo) => {
      resolve({
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            if ("closeIdleConnections" in server) server.closeIdleConnections();
          }),
      });
    });
  });
}
