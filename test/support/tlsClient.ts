/**
 * Throw-away certificates minted with openssl (a CA, a server certificate for 127.0.0.1, a client certificate, and
 * one from another CA) and an HTTPS client that can present a client certificate: node:https, because fetch on
 * Node takes no client certificate without undici's own Agent.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";

export const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;

export interface TestPki {
  folder: string;
  file(name: string): string;
  pem(name: string): string;
  remove(): void;
}

/**
 * ca.pem, server.pem/key (127.0.0.1), client.pem/key (CN=deploy-bot, O=Acme, signed by ca), stranger.pem/key (signed
 * by other-ca), and tricky.pem/key (signed by ca, its CN holding a right-to-left override and a C1 CSI).
 */
export function mintTestPki(): TestPki {
  const folder = mkdtempSync(path.join(tmpdir(), "hookledger-listener-tls-"));
  const file = (name: string) => path.join(folder, name);
  const openssl = (...args: string[]) => {
    const run = spawnSync("openssl", args);
    if (run.status !== 0) throw new Error(`openssl ${args[0]}: ${run.stderr.toString()}`);
  };
  for (const ca of ["ca", "other-ca"]) openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", file(`${ca}.key`), "-out", file(`${ca}.pem`), "-days", "2", "-subj", `/CN=hookledger test ${ca}`);
  const issue = (name: string, subject: string, extension: string, ca: string) => {
    openssl("req", "-utf8", "-newkey", "rsa:2048", "-nodes", "-keyout", file(`${name}.key`), "-out", file(`${name}.csr`), "-subj", subject);
    writeFileSync(file(`${name}.ext`), extension);
    openssl("x509", "-req", "-in", file(`${name}.csr`), "-CA", file(`${ca}.pem`), "-CAkey", file(`${ca}.key`), "-CAcreateserial", "-out", file(`${name}.pem`), "-days", "2", "-extfile", file(`${name}.ext`));
  };
  issue("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n", "ca");
  issue("client", "/CN=deploy-bot/O=Acme", "extendedKeyUsage=clientAuth\n", "ca");
  issue("stranger", "/CN=stranger", "extendedKeyUsage=clientAuth\n", "other-ca");
  issue("tricky", "/CN=deploy\u202Ebot\u009B31m/O=Acme", "extendedKeyUsage=clientAuth\n", "ca");
  return { folder, file, pem: (name) => readFileSync(file(name), "utf8"), remove: () => rmSync(folder, { recursive: true, force: true }) };
}

export interface HttpsReply {
  status: number;
  /* eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON bodies for assertions */
  body: any;
}

/**
 * One request over a fresh TLS connection; rejects when the handshake or the connection is refused.
 *
 * @example
 * await httpsCall(pki, `${url}/v1/applications`, { method: "GET", client: "client", headers: { authorization: … } });
 */
export function httpsCall(
  pki: TestPki,
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: unknown; client?: "client" | "stranger" | "tricky" } = {},
): Promise<HttpsReply> {
  const body = options.body === undefined ? undefined : typeof options.body === "string" ? options.body : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? "GET",
        ca: pki.pem("ca.pem"),
        agent: false,
        headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...options.headers },
        ...(options.client ? { cert: pki.pem(`${options.client}.pem`), key: pki.pem(`${options.client}.key`) } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const json = /json/.test(String(res.headers["content-type"] ?? ""));
          resolve({ status: res.statusCode ?? 0, body: json && text ? JSON.parse(text) : text || undefined });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.setTimeout(5000, () => req.destroy(new Error("timed out")));
    req.end(body);
  });
}
