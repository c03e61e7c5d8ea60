/**
 * Separate listeners and TLS over real connections: the ingress, pull and admin doors on listeners of their own
 * (their routes gone from the main one), every client-auth mode against a throw-away openssl PKI (no certificate,
 * a certificate of another CA, a good one, plain HTTP), the verified subject in the ledger meta, and the settings
 * that stop start-up.
 */
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { hasOpenssl, httpsCall, mintTestPki, type TestPki } from "../support/tlsClient.ts";

let db: TestDatabase;
let pki: TestPki;

beforeAll(async () => {
  db = await createTestDatabase();
  if (hasOpenssl) pki = mintTestPki();
});
afterAll(async () => {
  pki?.remove();
  await db?.drop();
});

const urlOf = (app: TestApp, door: string) => app.listeners.find((listener) => listener.door === door)?.url ?? "";
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe.skipIf(!hasOpenssl)("separate ingress, pull and admin listeners", () => {
  let app: TestApp;
  let orgToken = "";
  let orgId = "";

  beforeAll(async () => {
    app = await startTestApp(db, {
      env: {
        HOOKLEDGER_INGRESS_LISTEN: "127.0.0.1:0",
        HOOKLEDGER_INGRESS_TLS_CERT: pki.file("server.pem"),
        HOOKLEDGER_INGRESS_TLS_KEY: `file:${pki.file("server.key")}`,
        HOOKLEDGER_INGRESS_TLS_CLIENT_CA: pki.file("ca.pem"),
        HOOKLEDGER_PULL_LISTEN: "0",
        HOOKLEDGER_ADMIN_LISTEN: "127.0.0.1:0",
        HOOKLEDGER_ADMIN_TLS_CERT: pki.file("server.pem"),
        HOOKLEDGER_ADMIN_TLS_KEY: pki.file("server.key"),
        HOOKLEDGER_ADMIN_TLS_CLIENT_CA: pki.file("ca.pem"),
        HOOKLEDGER_ADMIN_TLS_CLIENT_AUTH: "verify_if_given",
      },
    });
    const admin = urlOf(app, "admin");
    const org = await httpsCall(pki, `${admin}/v1/organizations`, { method: "POST", headers: bearer(TEST_ADMIN_TOKEN), body: { name: "Listeners" }, client: "client" });
    expect(org.status).toBe(201);
    orgId = org.body.id;
    const token = await httpsCall(pki, `${admin}/v1/organizations/${orgId}/tokens`, { method: "POST", headers: bearer(TEST_ADMIN_TOKEN), body: { label: "ops", scopes: ["admin"] } });
    expect(token.status).toBe(201);
    orgToken = token.body.token;
  });
  afterAll(async () => {
    await app?.stop();
  });

  it("opens every listener it was given, with its scheme, main first", () => {
    expect(app.listeners.map((listener) => [listener.door, listener.url.split(":")[0], listener.clientAuth])).toEqual([
      ["main", "http", undefined],
      ["ingress", "https", "require_and_verify"],
      ["pull", "http", undefined],
      ["admin", "https", "verify_if_given"],
    ]);
    expect(urlOf(app, "pull")).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("answers 404 on the main listener for every route that moved, and serves the rest there", async () => {
    const moved = [
      ["POST", "/in/rt_000000000000000000000000"],
      ["GET", "/metrics"],
      ["POST", "/v1/organizations"],
      ["GET", "/v1/organizations"],
      ["POST", "/v1/pull/jobs/dequeue"],
      // Other spellings of the same routes must not reach them through the main listener either.
      ["POST", "/v1/%70ull/jobs/dequeue"],
      ["POST", "/%69n/rt_000000000000000000000000"],
      ["GET", "/v1/%6Frganizations"],
      ["GET", "/%6Detrics"],
    ] as const;
    for (const [method, path] of moved) {
      const answer = await app.fetch(path, { method, headers: { ...bearer(TEST_ADMIN_TOKEN), "content-type": "application/json" }, body: method === "POST" ? "{}" : undefined });
      expect({ path, status: answer.status }).toEqual({ path, status: 404 });
      expect((await answer.json()).type).toBe("urn:hookledger:problem:not-found");
    }
    expect((await app.call("GET", "/v1/applications", orgToken)).status).toBe(200);
    expect((await app.fetch("/health")).status).toBe(200);
  });

  it("serves only its own routes on each separate listener", async () => {
    const pull = urlOf(app, "pull");
    expect((await fetch(`${pull}/v1/applications`, { headers: bearer(orgToken) })).status).toBe(404);
    expect((await fetch(`${pull}/health`)).status).toBe(404);
    const created = await app.call("POST", "/v1/pull-queues", orgToken, { name: "jobs" });
    expect(created.status).toBe(201);
    const dequeued = await fetch(`${pull}/v1/pull/jobs/dequeue`, { method: "POST", headers: { ...bearer(orgToken), "content-type": "application/json" }, body: "{}" });
    expect(dequeued.status).toBe(200);
    expect(await dequeued.json()).toEqual({ messages: [] });

    const ingress = urlOf(app, "ingress");
    expect((await httpsCall(pki, `${ingress}/health`, { client: "client" })).status).toBe(404);
    expect((await httpsCall(pki, `${ingress}/v1/applications`, { client: "client", headers: bearer(orgToken) })).status).toBe(404);
    const admin = urlOf(app, "admin");
    expect((await httpsCall(pki, `${admin}/v1/applications`, { headers: bearer(orgToken) })).status).toBe(404);
    expect((await httpsCall(pki, `${admin}/metrics`, { headers: { authorization: `Bearer ${process.env.HOOKLEDGER_TEST_METRICS_TOKEN}` } })).status).toBe(200);
  });

  it("require_and_verify on the ingress listener: no certificate and another CA's are refused, a good one receives webhooks", async () => {
    const route = await app.call("POST", "/v1/ingress-routes", orgToken, { name: "over mTLS", auth: { type: "basic", username: "sender" }, secrets: [{ id: "pw", value: "correct horse battery" }] });
    expect(route.status).toBe(201);
    const url = `${urlOf(app, "ingress")}/in/${route.body.id}`;
    const headers = { authorization: `Basic ${Buffer.from("sender:correct horse battery").toString("base64")}` };
    await expect(httpsCall(pki, url, { method: "POST", headers, body: "{}" })).rejects.toThrow();
    await expect(httpsCall(pki, url, { method: "POST", headers, body: "{}", client: "stranger" })).rejects.toThrow();
    await expect(fetch(url.replace("https:", "http:"), { method: "POST", headers, body: "{}" })).rejects.toThrow();
    const accepted = await httpsCall(pki, url, { method: "POST", headers, body: "{}", client: "client" });
    expect(accepted.status).toBe(202);
    expect(accepted.body.receipt_id).toMatch(/^rcpt_/);
  });

  it("verify_if_given on the admin listener: no certificate passes, another CA's is refused, a good one names the connection in the ledger", async () => {
    const admin = urlOf(app, "admin");
    await expect(httpsCall(pki, `${admin}/v1/organizations`, { headers: bearer(TEST_ADMIN_TOKEN), client: "stranger" })).rejects.toThrow();
    const anonymous = await httpsCall(pki, `${admin}/v1/organizations/${orgId}`, { method: "PATCH", headers: bearer(TEST_ADMIN_TOKEN), body: { name: "Listeners 2" } });
    expect(anonymous.status).toBe(200);
    const [created] = await db.owner<{ meta: Record<string, unknown> }[]>`select meta from hookledger.ledger where type = 'organization.created' and org_id = ${orgId}`;
    expect(created?.meta).toMatchObject({ actor: { kind: "instance_admin" }, connection_identity: "CN=deploy-bot, O=Acme" });
    const [renamed] = await db.owner<{ meta: Record<string, unknown> }[]>`select meta from hookledger.ledger where type = 'organization.updated' and org_id = ${orgId} order by position desc limit 1`;
    expect(renamed?.meta).not.toHaveProperty("connection_identity");
  });
});

describe.skipIf(!hasOpenssl)("client-auth modes on the main listener", () => {
  const modes = [
    // mode, [no certificate, good certificate, another CA's certificate] → answered or refused, identity recorded
    { mode: "none", accepted: { none: true, good: true, stranger: true }, identity: false },
    { mode: "request", accepted: { none: true, good: true, stranger: true }, identity: true },
    { mode: "require", accepted: { none: false, good: true, stranger: true }, identity: true },
    { mode: "verify_if_given", accepted: { none: true, good: true, stranger: false }, identity: true },
    { mode: "require_and_verify", accepted: { none: false, good: true, stranger: false }, identity: true },
  ] as const;

  for (const { mode, accepted, identity } of modes) {
    it(`${mode}: ${Object.entries(accepted).map(([client, ok]) => `${client} ${ok ? "accepted" : "refused"}`).join(", ")}; plain HTTP refused`, async () => {
      const app = await startTestApp(db, {
        env: {
          HOOKLEDGER_TLS_CERT: pki.file("server.pem"),
          HOOKLEDGER_TLS_KEY: pki.file("server.key"),
          ...(mode === "none" ? {} : { HOOKLEDGER_TLS_CLIENT_CA: pki.file("ca.pem"), HOOKLEDGER_TLS_CLIENT_AUTH: mode }),
        },
      });
      try {
        const main = urlOf(app, "main");
        expect(main).toMatch(/^https:/);
        const attempt = (client?: "client" | "stranger") =>
          httpsCall(pki, `${main}/health`, { client }).then(
            (reply) => reply.status,
            () => "refused",
          );
        const reached = (ok: boolean) => (ok ? 200 : "refused");
        expect(await attempt()).toBe(reached(accepted.none));
        expect(await attempt("stranger")).toBe(reached(accepted.stranger));
        const organization = await httpsCall(pki, `${main}/v1/organizations`, { method: "POST", headers: bearer(TEST_ADMIN_TOKEN), body: { name: `mode ${mode}` }, client: "client" });
        expect(organization.status).toBe(201);
        const [entry] = await db.owner<{ meta: Record<string, unknown> }[]>`select meta from hookledger.ledger where type = 'organization.created' and org_id = ${organization.body.id}`;
        expect(entry?.meta.connection_identity).toBe(identity ? "CN=deploy-bot, O=Acme" : undefined);
        await expect(fetch(main.replace("https:", "http:") + "/health")).rejects.toThrow();
      } finally {
        await app.stop();
      }
    });
  }

  it("a certificate from another CA never names the connection, even where it is let in", async () => {
    const app = await startTestApp(db, { env: { HOOKLEDGER_TLS_CERT: pki.file("server.pem"), HOOKLEDGER_TLS_KEY: pki.file("server.key"), HOOKLEDGER_TLS_CLIENT_CA: pki.file("ca.pem"), HOOKLEDGER_TLS_CLIENT_AUTH: "require" } });
    try {
      const organization = await httpsCall(pki, `${urlOf(app, "main")}/v1/organizations`, { method: "POST", headers: bearer(TEST_ADMIN_TOKEN), body: { name: "stranger's" }, client: "stranger" });
      expect(organization.status).toBe(201);
      const [entry] = await db.owner<{ meta: Record<string, unknown> }[]>`select meta from hookledger.ledger where type = 'organization.created' and org_id = ${organization.body.id}`;
      expect(entry?.meta).not.toHaveProperty("connection_identity");
    } finally {
      await app.stop();
    }
  });
});

/** Runs `bun src/main.ts serve` until `done` says its output is complete, then stops it; answers output and exit code. */
function runService(env: Record<string, string>, done: (output: string) => boolean): Promise<{ output: string; code: number | null }> {
  const child = spawn("node_modules/.bin/bun", ["src/main.ts", "serve"], {
    env: {
      ...process.env,
      DATABASE_URL: db.ownerUrl,
      HOOKLEDGER_SERVICE_DATABASE_URL: db.serviceUrl,
      HOOKLEDGER_ENCRYPTION_KEYS: "env:HOOKLEDGER_TEST_KEYRING",
      HOOKLEDGER_ADMIN_TOKEN: "env:HOOKLEDGER_TEST_ADMIN_TOKEN",
      HOOKLEDGER_LOG_LEVEL: "warn",
      PORT: "0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (done(output)) child.kill("SIGTERM");
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ output, code });
    });
  });
}

describe.skipIf(!hasOpenssl)("the start-up line", () => {
  it("names every listener it opened, with its scheme and client-auth mode", async () => {
    const run = await runService(
      {
        HOOKLEDGER_INGRESS_LISTEN: "127.0.0.1:0",
        HOOKLEDGER_INGRESS_TLS_CERT: pki.file("server.pem"),
        HOOKLEDGER_INGRESS_TLS_KEY: pki.file("server.key"),
        HOOKLEDGER_INGRESS_TLS_CLIENT_CA: pki.file("ca.pem"),
        HOOKLEDGER_ADMIN_LISTEN: "0",
      },
      (output) => output.includes("database:"),
    );
    expect(run.output).toMatch(
      /^hookledger \S+ on \w+: API on http:\/\/127\.0\.0\.1:\d+, ingress on https:\/\/127\.0\.0\.1:\d+ \(client certificates: require_and_verify\), admin on http:\/\/127\.0\.0\.1:\d+; database: /m,
    );
  });

  it("stops with one line naming the setting, before anything opens", async () => {
    const combination = await runService({ HOOKLEDGER_ADMIN_TLS_KEY: pki.file("server.key"), HOOKLEDGER_ADMIN_LISTEN: "0" }, () => false);
    expect(combination).toEqual({ output: "hookledger: configuration error: HOOKLEDGER_ADMIN_TLS_KEY: a key without a certificate; set HOOKLEDGER_ADMIN_TLS_CERT too\n", code: 2 });
    const unreadable = await runService({ HOOKLEDGER_TLS_CERT: `${pki.folder}/gone.pem`, HOOKLEDGER_TLS_KEY: pki.file("server.key") }, () => false);
    expect(unreadable).toEqual({ output: `hookledger: HOOKLEDGER_TLS_CERT: file:${pki.folder}/gone.pem cannot be read\n`, code: 1 });
  });
});

describe("listener settings that stop start-up", () => {
  it("names the setting of a combination that does not fit", () => {
    const cases: [Record<string, string>, string][] = [
      [{ HOOKLEDGER_TLS_KEY: "/etc/hookledger/key.pem" }, "HOOKLEDGER_TLS_KEY: a key without a certificate; set HOOKLEDGER_TLS_CERT too"],
      [{ HOOKLEDGER_INGRESS_LISTEN: "9443", HOOKLEDGER_INGRESS_TLS_CERT: "/c.pem" }, "HOOKLEDGER_INGRESS_TLS_CERT: a certificate without its key; set HOOKLEDGER_INGRESS_TLS_KEY too"],
      [{ HOOKLEDGER_TLS_CERT: "/c.pem", HOOKLEDGER_TLS_KEY: "/k.pem", HOOKLEDGER_TLS_CLIENT_AUTH: "require" }, "HOOKLEDGER_TLS_CLIENT_AUTH: mode require needs a client CA; set HOOKLEDGER_TLS_CLIENT_CA"],
      [{ HOOKLEDGER_TLS_CLIENT_CA: "/ca.pem" }, "HOOKLEDGER_TLS_CLIENT_CA: mutual TLS needs TLS; set HOOKLEDGER_TLS_CERT and HOOKLEDGER_TLS_KEY"],
      [{ HOOKLEDGER_PULL_TLS_CERT: "/c.pem", HOOKLEDGER_PULL_TLS_KEY: "/k.pem" }, "HOOKLEDGER_PULL_TLS_CERT: TLS for a listener that is not configured; set HOOKLEDGER_PULL_LISTEN"],
      [{ PORT: "9000", HOOKLEDGER_ADMIN_LISTEN: "127.0.0.1:9000" }, "HOOKLEDGER_ADMIN_LISTEN: 127.0.0.1:9000 is already the address of HOOKLEDGER_HOST/PORT"],
      [{ HOOKLEDGER_INGRESS_LISTEN: "0.0.0.0:9443", HOOKLEDGER_PULL_LISTEN: "9443" }, "HOOKLEDGER_PULL_LISTEN: 127.0.0.1:9443 is already the address of HOOKLEDGER_INGRESS_LISTEN"],
    ];
    for (const [env, message] of cases) expect(() => loadConfig(env)).toThrow(message);
    expect(() => loadConfig({ HOOKLEDGER_ADMIN_LISTEN: "localhost:" })).toThrow(/^HOOKLEDGER_ADMIN_LISTEN: expected host:port/);
    expect(() => loadConfig({ HOOKLEDGER_TLS_CLIENT_AUTH: "optional" })).toThrow(/^HOOKLEDGER_TLS_CLIENT_AUTH: expected one of none, request, require, verify_if_given, require_and_verify/);
    expect(loadConfig({ HOOKLEDGER_ADMIN_LISTEN: "9090" }).HOOKLEDGER_ADMIN_LISTEN).toEqual({ hostname: "127.0.0.1", port: 9090 });
    expect(loadConfig({ HOOKLEDGER_INGRESS_LISTEN: "[::]:9443" }).HOOKLEDGER_INGRESS_LISTEN).toEqual({ hostname: "::", port: 9443 });
  });

  it.skipIf(!hasOpenssl)("refuses an unreadable PEM, a file that is not one, and a key that is not the certificate's, before anything opens", async () => {
    const attempt = (env: Record<string, string>) => startTestApp(db, { env }).then(async (app) => { await app.stop(); return "started"; }, (error: Error) => error.message);
    expect(await attempt({ HOOKLEDGER_TLS_CERT: `${pki.folder}/missing.pem`, HOOKLEDGER_TLS_KEY: pki.file("server.key") })).toBe(`HOOKLEDGER_TLS_CERT: file:${pki.folder}/missing.pem cannot be read`);
    expect(await attempt({ HOOKLEDGER_TLS_CERT: pki.file("server.key"), HOOKLEDGER_TLS_KEY: pki.file("server.key") })).toBe(`HOOKLEDGER_TLS_CERT: file:${pki.file("server.key")} does not hold a PEM certificate`);
    expect(await attempt({ HOOKLEDGER_TLS_CERT: pki.file("server.pem"), HOOKLEDGER_TLS_KEY: pki.file("client.key") })).toMatch(/^HOOKLEDGER_TLS_KEY: the key does not fit the certificate of HOOKLEDGER_TLS_CERT/);
  });
});
