/// <reference types="bun-types" />
import type { HttpServer, ServeOptions } from "./index.ts";
import { ProblemError, problemResponse } from "../problem.ts";
import { CONNECTION_TIMEOUTS } from "./timeouts.ts";

export function serveWithBun(options: ServeOptions): HttpServer {
  const server = Bun.serve({
    hostname: options.hostname,
    port: options.port,
    // An error that escapes the app's own handler gets a bare 500 problem, never Bun's development error page
    // (stack frames, source lines, paths), whatever NODE_ENV says. (`development: false` would do that too, but
    // with it a second start on a busy port no longer failed: it hung.)
    error: () => problemResponse(new ProblemError("internal", "an unexpected error occurred"), undefined, undefined),
    // Whole seconds. The request-head time is Bun's own (10 s), which CONNECTION_TIMEOUTS.headMs copies for TLS.
    idleTimeout: Math.ceil((options.timeouts ?? CONNECTION_TIMEOUTS).idleMs / 1000),
    fetch: (request, bun) => options.fetch(request, { clientIp: bun.requestIP(request)?.address ?? "" }),
  });
  return {
    port: server.port ?? options.port,
    close: () => server.stop(false),
  };
}
