/**
 * A real HTTP receiver on 127.0.0.1 that records every request (raw body bytes included) and answers with
 * whatever the test scripts: a status sequence, headers, a delay.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  at: Date;
}

export interface ScriptedResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  delayMs?: number;
}

export interface Receiver {
  url(path?: string): string;
  requests: ReceivedRequest[];
  /** Responses for a path, used in order; the last one repeats. Default: 200 "ok". */
  respond(path: string, ...responses: ScriptedResponse[]): void;
  waitFor(count: number, path?: string, timeoutMs?: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const scripts = new Map<string, ScriptedResponse[]>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const path = req.url ?? "/";
      requests.push({ path, headers: req.headers, body: Buffer.concat(chunks), at: new Date() });
      const script = scripts.get(path) ?? [];
      const response = (script.length > 1 ? script.shift() : script[0]) ?? { status: 200, body: "ok" };
      setTimeout(() => {
        res.writeHead(response.status, { "content-type": "text/plain", ...response.headers });
        res.end(response.body ?? "");
      }, response.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (path = "/") => `http://127.0.0.1:${port}${path}`,
    requests,
    respond: (path, ...responses) => scripts.set(path, responses),
    async waitFor(count, path, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const matching = requests.filter((r) => path === undefined || r.path === path);
        if (matching.length >= count) return matching;
        if (Date.now() > deadline) throw new Error(`receiver: expected ${count} request(s) to ${path ?? "any path"}, got ${matching.length}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
