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
import { loopbackPolicy, scriptedResolver, v4 } from "./support.ts";

const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;

describe.skipIf(!hasOpenssl)("https through a pinned connection", () => {
  let folder = "";
  let certificate = "";
  let server: https.Server;
  let port = 0;
  const serverNames: (string | false | null | undefined)[] = [];

  beforeAll(async () => {
    folder = mkdtempSync(path.join(tmpdir(), "hookledger-egress-tls-"));
    const key = path.join(folder, "key.pem");
    const cert = path.join(folder, "cert.pem");
    const minted = spawnSync("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
      "-subj", "/CN=hooks.test", "-addext", "subjectAltName=DNS:hooks.test",
    ]);
    expect(minted.status).toBe(0);
    certificate = readFileSync(cert, "utf8");
    server = https.createServer({ key: readFileSync(key), cert: certificate }, (request, response) => {
      serverNames.push((request.socket as TLSSocket).servername);
      if (request.url === "/slow") setTimeout(() => response.end("late"), 400);
      else response.end(`tls ok for ${request.headers.host}`);
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
    const result = await egress.send({ url: `https://hooks.test:${port}/`, method: "GET" });
    expect(result).toMatchObject({ ok: true, status: 200, bodyExcerpt: `tls ok for hooks.test:${port}`, remoteAddress: "127.0.0.1" });
    expect(serverNames.at(-1)).toBe("hooks.test");
    expect(calls).toEqual(["hooks.test"]);
  });

  it("clears the connect timer once the handshake is done", async () => {
    const egress = createEgressClient({ ...loopbackPolicy, connectTimeoutMs: 150 }, { ...scriptedResolver(v4("127.0.0.1")), trustedCertificates: [certificate] });
    const result = await egress.send({ url: `https://hooks.test:${port}/slow`, method: "GET" });
    expect(result).toMatchObject({ ok: true, bodyExcerpt: "late" });
  });

  it("refuses a certificate that does not name the host → tls", async () => {
    const egress = createEgressClient(loopbackPolicy, { ...scriptedResolver(v4("127.0.0.1")), trustedCertificates: [certificate] });
    const result = await egress.send({ url: `https://other.test:${port}/`, method: "GET" });
    expect(result).toMatchObject({ ok: false, errorClass: "tls", message: "the TLS certificate is not valid for this host name" });
  });

  it("refuses an untrusted certificate → tls", async () => {
    const egress = createEgressClient(loopbackPolicy, scriptedResolver(v4("127.0.0.1")));
    const result = await egress.send({ url: `https://hooks.test:${port}/`, method: "GET" });
    expect(result).toMatchObject({ ok: false, errorClass: "tls", message: "the TLS certificate is self-signed" });
  });
});
