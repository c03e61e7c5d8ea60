/**
 * HTTPS through the pinned connection: the socket goes to the checked address while SNI and certificate
 * verification still use the URL's host name. The certificate is minted per run with openssl (for the name
 * hooks.test) rather than committed, so no private key lives in the repository.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEgressClient } from "../../src/egress/client.ts";
import { classifyEgressError } from "../../src/egress/errors.ts";
import { createConnectionPool } from "../../src/egress/pool.ts";
import { exchangePinned, type PinnedExchange } from "../../src/egress/transport.ts";
import { loopbackPolicy, scriptedResolver, v4 } from "./support.ts";

const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;

describe.skipIf(!hasOpenssl)("https through a pinned connection", () => {
  let folder = "";
  let certificate = "";
  /** Another self-signed certificate for the same name, as a second set of trusted roots. */
  let otherCertificate = "";
  let handshakes = 0;
  let server: https.Server;
  let port = 0;
  const serverNames: (string | false | null | undefined)[] = [];

  beforeAll(async () => {
    folder = mkdtempSync(path.join(tmpdir(), "hookledger-egress-tls-"));
    const key = path.join(folder, "key.pem");
    const cert = path.join(folder, "cert.pem");
    const mint = (keyFile: string, certFile: string) => spawnSync("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", certFile, "-days", "2",
      "-subj", "/CN=hooks.test", "-addext", "subjectAltName=DNS:hooks.test",
    ]);
    expect(mint(key, cert).status).toBe(0);
    expect(mint(path.join(folder, "other-key.pem"), path.join(folder, "other-cert.pem")).status).toBe(0);
    certificate = readFileSync(cert, "utf8");
    otherCertificate = readFileSync(path.join(folder, "other-cert.pem"), "utf8");
    server = https.createServer({ key: readFileSync(key), cert: certificate }, (request, response) => {
      serverNames.push((request.socket as TLSSocket).servername);
      if (request.url === "/slow") setTimeout(() => response.end("late"), 400);
      else response.end(`tls ok for ${request.headers.host}`);
    });
    server.on("secureConnection", () => {
      handshakes += 1;
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(folder, { recursive: true, force: true });
  });

  it("sends SNI and verifies the certificate for the host name while connecting to the checked address", async () => {
    const { resolver, calls } = scriptedResolver(v4("127.0.0.1"));
    const egress = createEgressClient({ ...loopbackPolicy, httpsOnly: true }, { resolver, trustedCertificates: [certificate] });
    const result = await egress.send({ owner: "test", url: `https://hooks.test:${port}/`, method: "GET" });
    expect(result).toMatchObject({ ok: true, status: 200, bodyExcerpt: `tls ok for hooks.test:${port}`, remoteAddress: "127.0.0.1" });
    expect(serverNames.at(-1)).toBe("hooks.test");
    expect(calls).toEqual(["hooks.test"]);
  });

  it("clears the connect timer once the handshake is done", async () => {
    const egress = createEgressClient({ ...loopbackPolicy, connectTimeoutMs: 150 }, { ...scriptedResolver(v4("127.0.0.1")), trustedCertificates: [certificate] });
    const result = await egress.send({ owner: "test", url: `https://hooks.test:${port}/slow`, method: "GET" });
    expect(result).toMatchObject({ ok: true, bodyExcerpt: "late" });
  });

  it("refuses a certificate that does not name the host → tls", async () => {
    const egress = createEgressClient(loopbackPolicy, { ...scriptedResolver(v4("127.0.0.1")), trustedCertificates: [certificate] });
    const result = await egress.send({ owner: "test", url: `https://other.test:${port}/`, method: "GET" });
    expect(result).toMatchObject({ ok: false, errorClass: "tls", message: "the TLS certificate is not valid for this host name" });
  });

  it("refuses an untrusted certificate → tls", async () => {
    const egress = createEgressClient(loopbackPolicy, scriptedResolver(v4("127.0.0.1")));
    const result = await egress.send({ owner: "test", url: `https://hooks.test:${port}/`, method: "GET" });
    expect(result).toMatchObject({ ok: false, errorClass: "tls", message: "the TLS certificate is self-signed" });
  });

  it("reuses one TLS connection for sequential requests to the same destination", async () => {
    const egress = createEgressClient({ ...loopbackPolicy, httpsOnly: true }, { ...scriptedResolver(v4("127.0.0.1")), trustedCertificates: [certificate] });
    const before = handshakes;
    for (let n = 0; n < 3; n += 1) {
      expect(await egress.send({ owner: "test", url: `https://hooks.test:${port}/`, method: "GET" })).toMatchObject({ ok: true, status: 200, remoteAddress: "127.0.0.1" });
    }
    expect(handshakes - before).toBe(1);
    await egress.close();
  });

  it("never reuses a connection verified under other trusted roots", async () => {
    const pool = createConnectionPool(loopbackPolicy.connectionPool);
    const exchange = (roots: string[]): PinnedExchange => ({
      url: new URL(`https://hooks.test:${port}/`), addresses: v4("127.0.0.1"), method: "GET", headers: {}, body: undefined,
      connectTimeoutMs: 1_000, deadline: performance.now() + 3_000, totalTimeoutMs: 3_000, maxResponseBytes: 1_024,
      maxHeaderBytes: 16_384, trustedCertificates: roots, pool: { connections: pool, owner: "test" },
    });
    expect(await exchangePinned(exchange([certificate]))).toMatchObject({ ok: true, status: 200 });
    const untrusted = await exchangePinned(exchange([otherCertificate]));
    expect(untrusted.ok ? "reused the verified connection" : classifyEgressError(untrusted.error, { maxHeaderBytes: 16_384 }).errorClass).toBe("tls");
    await pool.close();
  });
});
