/**
 * `vault:path#key` references against a Vault stand-in on loopback: both KV shapes, the headers Vault needs,
 * every failure named without the token, token renewal from a file, timeouts, and TLS with a private CA and a
 * client certificate (minted per run with openssl, so no private key lives in the repository).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { secretResolverFromConfig } from "../../src/boot.ts";
import { loadConfig } from "../../src/config.ts";
import { createSecretResolver, type SecretResolver } from "../../src/secrets/references.ts";
import { vaultReaderFromSettings } from "../../src/secrets/vaultSettings.ts";
import { startFakeVault, type FakeVault } from "../support/fakeVault.ts";

const TOKEN = "hvs.test-token-that-must-never-be-printed";
let vault: FakeVault;
let folder: string;

beforeAll(async () => {
  vault = await startFakeVault({ token: TOKEN });
  folder = mkdtempSync(path.join(tmpdir(), "hookledger-vault-"));
  vault.put("secret/data/hookledger/github", { webhook_secret: "from-kv-v2", count: 3, empty: "" });
  vault.put("kv1/hookledger/stripe", { signing_key: "from-kv-v1" }, 1);
  // A version 1 secret whose own keys look like version 2's wrapper.
  vault.put("kv1/lookalike", { data: { inner: "x" }, metadata: { note: "y" }, token: "v1-token" }, 1);
});
afterAll(async () => {
  await vault?.close();
  rmSync(folder, { recursive: true, force: true });
});

async function resolverFor(env: Record<string, string>, processEnv: Record<string, string> = {}): Promise<SecretResolver> {
  const config = loadConfig(env);
  const reader = await vaultReaderFromSettings(config, { env: processEnv });
  return createSecretResolver({ devMode: config.HOOKLEDGER_DEV_MODE, vault: reader, env: processEnv });
}

const vaultEnv = (extra: Record<string, string> = {}) => ({
  HOOKLEDGER_VAULT_ADDR: vault.url,
  HOOKLEDGER_VAULT_TOKEN: "env:TEST_VAULT_TOKEN",
  ...extra,
});

async function failure(resolve: SecretResolver, reference: string): Promise<string> {
  try {
    await resolve(reference);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`${reference} resolved`);
}

describe("vault: references", () => {
  it("reads a key of a KV v2 secret, sending the token and namespace headers Vault expects", async () => {
    const resolve = await resolverFor(vaultEnv({ HOOKLEDGER_VAULT_NAMESPACE: "admin/team-a" }), { TEST_VAULT_TOKEN: TOKEN });
    expect(await resolve("vault:secret/data/hookledger/github#webhook_secret")).toBe("from-kv-v2");
    expect(vault.requests.at(-1)).toMatchObject({ path: "secret/data/hookledger/github", token: TOKEN, namespace: "admin/team-a" });
  });

  it("reads a key of a KV v1 secret", async () => {
    const resolve = await resolverFor(vaultEnv(), { TEST_VAULT_TOKEN: TOKEN });
    expect(await resolve("vault:kv1/hookledger/stripe#signing_key")).toBe("from-kv-v1");
    expect(vault.requests.at(-1)?.namespace).toBeUndefined();
    expect(await resolve("vault:kv1/lookalike#token")).toBe("v1-token");
  });

  it("keeps a path prefix in HOOKLEDGER_VAULT_ADDR (Vault behind a proxy path)", async () => {
    const resolve = await resolverFor(vaultEnv({ HOOKLEDGER_VAULT_ADDR: `${vault.url}/vault-proxy` }), { TEST_VAULT_TOKEN: TOKEN });
    expect(await resolve("vault:secret/data/hookledger/github#webhook_secret")).toBe("from-kv-v2");
    expect(vault.requests.at(-1)?.url).toBe("/vault-proxy/v1/secret/data/hookledger/github");
  });

  it("names what is wrong — missing key, non-string, empty, no such path, refused token, sealed — and never the token", async () => {
    const resolve = await resolverFor(vaultEnv(), { TEST_VAULT_TOKEN: TOKEN });
    const messages = [
      await failure(resolve, "vault:secret/data/hookledger/github#nope"),
      await failure(resolve, "vault:secret/data/hookledger/github#constructor"),
      await failure(resolve, "vault:secret/data/hookledger/github#count"),
      await failure(resolve, "vault:secret/data/hookledger/github#empty"),
      await failure(resolve, "vault:secret/hookledger/github#webhook_secret"),
    ];
    expect(messages).toEqual([
      'vault:secret/data/hookledger/github#nope: the secret has no key "nope"',
      'vault:secret/data/hookledger/github#constructor: the secret has no key "constructor"',
      'vault:secret/data/hookledger/github#count: the value of key "count" is not a non-empty string',
      'vault:secret/data/hookledger/github#empty: the value of key "empty" is not a non-empty string',
      "vault:secret/hookledger/github#webhook_secret: Vault has no secret at this path (404; for a KV version 2 engine the path includes data/, e.g. secret/data/app)",
    ]);
    const wrongToken = await resolverFor(vaultEnv(), { TEST_VAULT_TOKEN: "hvs.wrong-token-also-secret" });
    const refused = await failure(wrongToken, "vault:secret/data/hookledger/github#webhook_secret");
    expect(refused).toBe("vault:secret/data/hookledger/github#webhook_secret: Vault refused the token for this path (403 permission denied)");
    vault.failWith(503);
    try {
      expect(await failure(resolve, "vault:secret/data/hookledger/github#webhook_secret")).toMatch(/Vault is sealed, in standby or unavailable \(503\)$/);
    } finally {
      vault.failWith(undefined);
    }
    for (const message of [...messages, refused]) expect(message).not.toMatch(/hvs\./);
  });

  it("refuses malformed references before asking Vault", async () => {
    const resolve = await resolverFor(vaultEnv(), { TEST_VAULT_TOKEN: TOKEN });
    const before = vault.requests.length;
    for (const reference of ["vault:secret/data/app", "vault:secret/data/app#", "vault:#key", "vault:secret/../sys/app#key", "vault:secret//app#key", "vault:/secret/app#key", "vault:secret/a b#key"]) {
      expect(await failure(resolve, reference)).toMatch(/^vault:.*: (expected vault:path#key|the Vault path must be plain segments)/);
    }
    expect(vault.requests.length).toBe(before);
  });

  it("refuses vault: references when no Vault is configured, saying what to set", async () => {
    const resolve = createSecretResolver({ devMode: false });
    expect(await failure(resolve, "vault:secret/data/app#key")).toBe("vault:secret/data/app#key: vault: references need HOOKLEDGER_VAULT_ADDR and HOOKLEDGER_VAULT_TOKEN");
  });

  it("reads the token file on every request, so a token renewed by Vault Agent is used without a restart", async () => {
    const tokenFile = path.join(folder, "token");
    writeFileSync(tokenFile, `${TOKEN}\n`);
    const resolve = await resolverFor(vaultEnv({ HOOKLEDGER_VAULT_TOKEN: `file:${tokenFile}` }));
    expect(await resolve("vault:secret/data/hookledger/github#webhook_secret")).toBe("from-kv-v2");
    vault.acceptToken("hvs.renewed");
    writeFileSync(tokenFile, "hvs.renewed\n");
    try {
      expect(await resolve("vault:secret/data/hookledger/github#webhook_secret")).toBe("from-kv-v2");
      expect(vault.requests.at(-1)?.token).toBe("hvs.renewed");
      rmSync(tokenFile);
      expect(await failure(resolve, "vault:secret/data/hookledger/github#webhook_secret")).toBe(
        "vault:secret/data/hookledger/github#webhook_secret: the Vault token (HOOKLEDGER_VAULT_TOKEN) cannot be read",
      );
    } finally {
      vault.acceptToken(TOKEN);
    }
  });

  it("gives up after HOOKLEDGER_VAULT_TIMEOUT and reports a refused connection", async () => {
    const held: net.Socket[] = [];
    const silent = net.createServer((socket) => void held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const silentPort = (silent.address() as AddressInfo).port;
    try {
      const slow = await resolverFor({ HOOKLEDGER_VAULT_ADDR: `http://127.0.0.1:${silentPort}`, HOOKLEDGER_VAULT_TOKEN: "env:TEST_VAULT_TOKEN", HOOKLEDGER_VAULT_TIMEOUT: "300ms" }, { TEST_VAULT_TOKEN: TOKEN });
      expect(await failure(slow, "vault:secret/data/app#key")).toBe("vault:secret/data/app#key: cannot reach Vault: the whole request took longer than 300 ms");
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
    const unresolvable = async (resolver: (hostname: string) => Promise<never>) => {
      const config = loadConfig({ HOOKLEDGER_VAULT_ADDR: "https://vault.test:8200", HOOKLEDGER_VAULT_TOKEN: "env:TEST_VAULT_TOKEN", HOOKLEDGER_VAULT_TIMEOUT: "200ms" });
      const reader = await vaultReaderFromSettings(config, { env: { TEST_VAULT_TOKEN: TOKEN }, resolver });
      return failure(createSecretResolver({ devMode: false, vault: reader }), "vault:secret/data/app#key");
    };
    expect(await unresolvable(() => new Promise<never>(() => undefined))).toBe("vault:secret/data/app#key: resolving Vault's host name took too long");
    expect(await unresolvable(() => Promise.reject(Object.assign(new Error("getaddrinfo ENOTFOUND vault.test"), { code: "ENOTFOUND" })))).toBe(
      "vault:secret/data/app#key: Vault's host name could not be resolved",
    );
    const closed = await resolverFor({ HOOKLEDGER_VAULT_ADDR: `http://127.0.0.1:${silentPort}`, HOOKLEDGER_VAULT_TOKEN: "env:TEST_VAULT_TOKEN" }, { TEST_VAULT_TOKEN: TOKEN });
    expect(await failure(closed, "vault:secret/data/app#key")).toBe("vault:secret/data/app#key: cannot reach Vault: the destination refused the connection");
  });
});

describe("HOOKLEDGER_VAULT_* settings", () => {
  const startUpError = async (env: Record<string, string>, processEnv: Record<string, string> = { TEST_VAULT_TOKEN: TOKEN }) => {
    try {
      await vaultReaderFromSettings(loadConfig(env), { env: processEnv });
    } catch (error) {
      return (error as Error).message;
    }
    return "started";
  };

  it("stops start-up on settings that do not fit together, naming the setting", async () => {
    expect(await startUpError({ HOOKLEDGER_VAULT_ADDR: "http://vault.internal:8200", HOOKLEDGER_VAULT_TOKEN: "env:TEST_VAULT_TOKEN" })).toMatch(/^HOOKLEDGER_VAULT_ADDR: plain http would send the Vault token in clear text/);
    expect(await startUpError({ HOOKLEDGER_VAULT_ADDR: "http://vault.internal:8200", HOOKLEDGER_VAULT_TOKEN: "env:TEST_VAULT_TOKEN", HOOKLEDGER_DEV_MODE: "true" })).toBe("started");
    expect(await startUpError({ HOOKLEDGER_VAULT_ADDR: "https://vault.internal:8200" })).toMatch(/^HOOKLEDGER_VAULT_TOKEN: required with HOOKLEDGER_VAULT_ADDR/);
    expect(await startUpError({ HOOKLEDGER_VAULT_ADDR: "https://vault.internal:8200", HOOKLEDGER_VAULT_TOKEN: "env:TEST_VAULT_TOKEN_MISSING" })).toBe("HOOKLEDGER_VAULT_TOKEN: env:TEST_VAULT_TOKEN_MISSING is not set");
    expect(await startUpError({ HOOKLEDGER_VAULT_ADDR: "https://vault.internal:8200", HOOKLEDGER_VAULT_TOKEN: "env:TEST_VAULT_TOKEN", HOOKLEDGER_VAULT_CLIENT_CERT: "/x.pem" })).toMatch(/^HOOKLEDGER_VAULT_CLIENT_KEY: client certificate and key go together/);
    expect(await startUpError({ HOOKLEDGER_VAULT_ADDR: "https://vault.internal:8200", HOOKLEDGER_VAULT_TOKEN: "env:TEST_VAULT_TOKEN", HOOKLEDGER_VAULT_CACERT: path.join(folder, "missing.pem") })).toMatch(/^HOOKLEDGER_VAULT_CACERT: .* cannot be read$/);
    expect(await startUpError({ HOOKLEDGER_VAULT_TOKEN: "env:TEST_VAULT_TOKEN" })).toBe("HOOKLEDGER_VAULT_TOKEN: set HOOKLEDGER_VAULT_ADDR too, or remove it");
    expect(await startUpError({})).toBe("started");
    await expect(secretResolverFromConfig(loadConfig({ ...vaultEnv(), HOOKLEDGER_VAULT_TIMEOUT: "30s" }))).rejects.toThrow(
      "HOOKLEDGER_VAULT_TIMEOUT: must be shorter than HOOKLEDGER_REQUEST_TIMEOUT_MS (30000 ms)",
    );
  });

  it("validates each setting on its own, never echoing the token", () => {
    expect(loadConfig({ HOOKLEDGER_VAULT_TIMEOUT: "1500ms" }).HOOKLEDGER_VAULT_TIMEOUT).toBe(1500);
    expect(loadConfig({ HOOKLEDGER_VAULT_TIMEOUT: "2" }).HOOKLEDGER_VAULT_TIMEOUT).toBe(2000);
    expect(loadConfig({ HOOKLEDGER_VAULT_TIMEOUT: "1m" }).HOOKLEDGER_VAULT_TIMEOUT).toBe(60000);
    expect(loadConfig({}).HOOKLEDGER_VAULT_TIMEOUT).toBe(10000);
    expect(() => loadConfig({ HOOKLEDGER_VAULT_TIMEOUT: "fast" })).toThrow(/^HOOKLEDGER_VAULT_TIMEOUT: expected a duration such as 10s/);
    expect(() => loadConfig({ HOOKLEDGER_VAULT_TIMEOUT: "11m" })).toThrow(/^HOOKLEDGER_VAULT_TIMEOUT: expected at most 10m/);
    expect(() => loadConfig({ HOOKLEDGER_VAULT_ADDR: "vault:8200" })).toThrow(/^HOOKLEDGER_VAULT_ADDR: expected Vault's address/);
    expect(() => loadConfig({ HOOKLEDGER_VAULT_NAMESPACE: "a b" })).toThrow(/^HOOKLEDGER_VAULT_NAMESPACE: expected a namespace/);
    expect(() => loadConfig({ HOOKLEDGER_VAULT_TOKEN: "hvs.literal-token" })).toThrow("HOOKLEDGER_VAULT_TOKEN: expected a secret reference to the token: env:NAME, file:/path or raw:value (development only)");
    expect(() => loadConfig({ HOOKLEDGER_VAULT_TOKEN: "vault:secret/data/t#token" })).toThrow(/^HOOKLEDGER_VAULT_TOKEN: expected a secret reference to the token/);
    expect(() => loadConfig({ HOOKLEDGER_ADMIN_TOKEN: "vault:secret/data/hookledger#admin_token" })).not.toThrow();
  });
});

const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;

describe.skipIf(!hasOpenssl)("vault over TLS with a private CA and a client certificate", () => {
  let tlsVault: FakeVault;
  let tlsFolder = "";
  const file = (name: string) => path.join(tlsFolder, name);
  const openssl = (...args: string[]) => expect(spawnSync("openssl", args).status).toBe(0);

  beforeAll(async () => {
    tlsFolder = mkdtempSync(path.join(tmpdir(), "hookledger-vault-tls-"));
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", file("ca.key"), "-out", file("ca.pem"), "-days", "2", "-subj", "/CN=hookledger test CA");
    const issue = (name: string, subject: string, extension: string) => {
      openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", file(`${name}.key`), "-out", file(`${name}.csr`), "-subj", subject);
      writeFileSync(file(`${name}.ext`), extension);
      openssl("x509", "-req", "-in", file(`${name}.csr`), "-CA", file("ca.pem"), "-CAkey", file("ca.key"), "-CAcreateserial", "-out", file(`${name}.pem`), "-days", "2", "-extfile", file(`${name}.ext`));
    };
    issue("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    issue("client", "/CN=hookledger", "extendedKeyUsage=clientAuth\n");
    tlsVault = await startFakeVault({ token: TOKEN, tls: { key: readFileSync(file("server.key"), "utf8"), cert: readFileSync(file("server.pem"), "utf8"), ca: readFileSync(file("ca.pem"), "utf8") } });
    tlsVault.put("secret/data/app", { key: "over-mtls" });
  });
  afterAll(async () => {
    await tlsVault?.close();
    rmSync(tlsFolder, { recursive: true, force: true });
  });

  it("verifies Vault against HOOKLEDGER_VAULT_CACERT and presents the client certificate", async () => {
    const resolve = await resolverFor(
      { ...vaultEnv(), HOOKLEDGER_VAULT_ADDR: tlsVault.url, HOOKLEDGER_VAULT_CACERT: file("ca.pem"), HOOKLEDGER_VAULT_CLIENT_CERT: file("client.pem"), HOOKLEDGER_VAULT_CLIENT_KEY: file("client.key") },
      { TEST_VAULT_TOKEN: TOKEN },
    );
    expect(await resolve("vault:secret/data/app#key")).toBe("over-mtls");
    expect(tlsVault.requests.at(-1)).toMatchObject({ path: "secret/data/app", clientCertificate: true });
  });

  it("refuses a Vault whose certificate the configured roots do not vouch for, and fails without the client certificate", async () => {
    const untrusted = await resolverFor({ ...vaultEnv(), HOOKLEDGER_VAULT_ADDR: tlsVault.url }, { TEST_VAULT_TOKEN: TOKEN });
    expect(await failure(untrusted, "vault:secret/data/app#key")).toMatch(/^vault:secret\/data\/app#key: cannot reach Vault: .*certificate/);
    const anonymous = await resolverFor({ ...vaultEnv(), HOOKLEDGER_VAULT_ADDR: tlsVault.url, HOOKLEDGER_VAULT_CACERT: file("ca.pem") }, { TEST_VAULT_TOKEN: TOKEN });
    const served = tlsVault.requests.length;
    expect(await failure(anonymous, "vault:secret/data/app#key")).toMatch(/^vault:secret\/data\/app#key: cannot reach Vault: /);
    // Refused in the handshake: no request reached Vault without the client certificate.
    expect(tlsVault.requests.length).toBe(served);
  });
});
