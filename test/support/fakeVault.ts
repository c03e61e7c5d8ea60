/**
 * A stand-in for HashiCorp Vault's KV HTTP API on loopback: `GET /v1/{path}` with X-Vault-Token, answering the
 * version 1 or version 2 shape for the secrets it holds, 403 for a wrong token and 404 for a missing path, as
 * Vault does. Plain HTTP by default; give `tls` to serve HTTPS (and require a client certificate).
 */
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";

export interface FakeVault {
  url: string;
  /** Every request seen: path, the headers Vault cares about, and whether a verified client certificate came with it. */
  requests: { url: string; path: string; token: string | undefined; namespace: string | undefined; clientCertificate: boolean }[];
  /** Sets the secret at `path` (the API path after /v1/, e.g. "secret/data/app" for KV v2). */
  put(path: string, data: Record<string, unknown>, engine?: 1 | 2): void;
  /** The token the server accepts from now on. */
  acceptToken(token: string): void;
  /** Answers every request with this status (e.g. 503 while "sealed"), or normally again with undefined. */
  failWith(status: number | undefined): void;
  close(): Promise<void>;
}

export async function startFakeVault(options: { token: string; tls?: { key: string; cert: string; ca?: string } }): Promise<FakeVault> {
  const secrets = new Map<string, { engine: 1 | 2; data: Record<string, unknown> }>();
  const requests: FakeVault["requests"] = [];
  let token = options.token;
  let failure: number | undefined;

  const handler: http.RequestListener = (request, response) => {
    // Everything after the first /v1/, so an address with a path prefix (behind a proxy) is served too.
    const path = decodeURIComponent((request.url ?? "").replace(/^.*?\/v1\//, "").split("?")[0] ?? "");
    const given = request.headers["x-vault-token"];
    const namespace = request.headers["x-vault-namespace"];
    // `authorized` is set once a client certificate verified against `ca` (getPeerCertificate differs on Bun).
    const socket = request.socket as { authorized?: boolean };
    requests.push({
      url: request.url ?? "",
      path,
      token: typeof given === "string" ? given : undefined,
      namespace: typeof namespace === "string" ? namespace : undefined,
      clientCertificate: socket.authorized === true,
    });
    const answer = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    if (failure !== undefined) return answer(failure, { errors: ["Vault is sealed"] });
    if (given !== token) return answer(403, { errors: ["permission denied"] });
    const secret = secrets.get(path);
    if (!secret) return answer(404, { errors: [] });
    if (secret.engine === 1) return answer(200, { request_id: "r1", lease_duration: 2764800, data: secret.data });
    return answer(200, { request_id: "r2", data: { data: secret.data, metadata: { version: 3, created_time: "2026-11-01T00:00:00Z", deletion_time: "", destroyed: false } } });
  };

  const server = options.tls
    ? https.createServer({ key: options.tls.key, cert: options.tls.cert, ...(options.tls.ca ? { ca: options.tls.ca, requestCert: true, rejectUnauthorized: true } : {}) }, handler)
    : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${port}`,
    requests,
    put: (path, data, engine = 2) => void secrets.set(path, { engine, data }),
    acceptToken: (next) => void (token = next),
    failWith: (status) => void (failure = status),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
