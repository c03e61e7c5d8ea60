/**
 * Secret references end to end: settings resolved from Vault at start-up (or start-up stopped, naming the
 * setting), and route secrets given as references through the API, limited to what the operator allows each
 * organization, resolved once when added and never at the first webhook.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { sign as signGithub } from "@octokit/webhooks-methods";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startFakeVault, type FakeVault } from "../support/fakeVault.ts";
import { inboundTenant, postWebhook } from "./setup.ts";

const VAULT_TOKEN = "hvs.inbound-test-token";
let db: TestDatabase;
let vault: FakeVault;
let app: TestApp;
let folder: string;
let acme: Awaited<ReturnType<typeof inboundTenant>>;
let globex: Awaited<ReturnType<typeof inboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  vault = await startFakeVault({ token: VAULT_TOKEN });
  folder = await mkdtemp(path.join(tmpdir(), "hookledger-refs-"));
  process.env.HOOKLEDGER_TEST_VAULT_TOKEN = VAULT_TOKEN;
  process.env.HOOKLEDGER_TEST_SHARED_GITHUB = "shared-from-env";
  process.env.HOOKLEDGER_TEST_SHARED_BASIC = "short";
  // The instance admin token itself comes from Vault, so start-up proves settings resolve through it.
  vault.put("secret/data/hookledger/instance", { admin_token: TEST_ADMIN_TOKEN });
  app = await startTestApp(db, {
    env: {
      HOOKLEDGER_ADMIN_TOKEN: "vault:secret/data/hookledger/instance#admin_token",
      HOOKLEDGER_VAULT_ADDR: vault.url,
      HOOKLEDGER_VAULT_TOKEN: "env:HOOKLEDGER_TEST_VAULT_TOKEN",
      HOOKLEDGER_TENANT_SECRET_REFS: `vault:secret/data/tenants/{org_id}/, file:${folder}/{org_id}/, env:HOOKLEDGER_TEST_SHARED_`,
    },
  });
  acme = await inboundTenant(app, "Acme");
  globex = await inboundTenant(app, "Globex");
});
afterAll(async () => {
  await app?.stop();
  await vault?.close();
  await db?.drop();
  await rm(folder, { recursive: true, force: true });
});

const github = async (routeId: string, secret: string) => {
  const body = JSON.stringify({ zen: "Keep it logically awesome." });
  return postWebhook(app, routeId, body, { "X-Hub-Signature-256": await signGithub(secret, body), "X-GitHub-Delivery": crypto.randomUUID() });
};

describe("secret references through the API", () => {
  it("takes a reference's value for a basic-auth route as it resolves: the 16-character minimum is for literal passwords", async () => {
    const route = await acme.createRoute({ auth: { type: "basic", username: "hooks" }, secrets: [{ id: "env", ref: "env:HOOKLEDGER_TEST_SHARED_BASIC" }] });
    expect(route.secrets.map((s) => [s.id, s.source])).toEqual([["env", "env"]]);
    const authorization = `Basic ${Buffer.from("hooks:short").toString("base64")}`;
    expect((await postWebhook(app, route.id, "{}", { Authorization: authorization })).status).toBe(202);
    const literal = await app.call("POST", `/v1/ingress-routes/${route.id}/secrets`, acme.token, { value: "short" });
    expect(literal.status).toBe(400);
    expect(literal.body.errors).toEqual([{ field: "value", message: expect.stringMatching(/at least 16 characters/) }]);
  });

  it("resolves the organization's own Vault, file and shared env references once, when the secret is added", async () => {
    vault.put(`secret/data/tenants/${acme.orgId}/github`, { webhook_secret: "acme-from-vault" });
    await mkdir(path.join(folder, acme.orgId));
    await writeFile(path.join(folder, acme.orgId, "github"), "acme-from-file\n");
    const route = await acme.createRoute({
      auth: { type: "hmac", preset: "github" },
      secrets: [
        { id: "vault", ref: `vault:secret/data/tenants/${acme.orgId}/github#webhook_secret` },
        { id: "file", ref: `file:${folder}/${acme.orgId}/github` },
        { id: "env", ref: "env:HOOKLEDGER_TEST_SHARED_GITHUB" },
      ],
    });
    expect(route.secrets.map((s) => [s.id, s.source])).toEqual([["vault", "vault"], ["file", "file"], ["env", "env"]]);
    expect(route.secrets.every((s) => s.value === undefined)).toBe(true);
    const reads = vault.requests.length;
    // Resolved once: Vault going away afterwards does not touch verification.
    vault.failWith(503);
    try {
      for (const secret of ["acme-from-vault", "acme-from-file", "shared-from-env"]) expect((await github(route.id, secret)).status).toBe(202);
      expect((await github(route.id, "wrong")).status).toBe(401);
    } finally {
      vault.failWith(undefined);
    }
    expect(vault.requests.length).toBe(reads);
  });

  it("refuses another organization's corner and the service's own secrets without reading them", async () => {
    vault.put(`secret/data/tenants/${globex.orgId}/github`, { webhook_secret: "globex-only" });
    const reads = vault.requests.length;
    const attempts = [
      `vault:secret/data/tenants/${globex.orgId}/github#webhook_secret`,
      "vault:secret/data/hookledger/instance#admin_token",
      "env:DATABASE_URL",
      "env:HOOKLEDGER_TEST_VAULT_TOKEN",
      "file:/etc/hostname",
      `file:${folder}/${acme.orgId}/../${globex.orgId}/github`,
    ];
    for (const ref of attempts) {
      const refused = await app.call("POST", "/v1/ingress-routes", acme.token, { name: "stolen", auth: { type: "hmac", preset: "github" }, secrets: [{ ref }] });
      expect(refused.status, ref).toBe(400);
      expect(refused.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(refused.body.errors).toEqual([{ field: "secrets.0.ref", message: expect.stringMatching(/^(this reference is outside what this instance allows; it must start with vault:secret\/data\/tenants\/|the reference is not in canonical form)/) }]);
      expect(JSON.stringify(refused.body)).not.toContain(globex.orgId);
    }
    expect(vault.requests.length).toBe(reads);
    expect((await app.call("GET", "/v1/ingress-routes", acme.token)).body.data.some((r: { name: string }) => r.name === "stolen")).toBe(false);
  });

  it("answers 400 naming the field when Vault cannot give the secret, and keeps nothing", async () => {
    const route = await acme.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ id: "first", value: "first-secret" }] });
    const missing = await app.call("POST", `/v1/ingress-routes/${route.id}/secrets`, acme.token, { id: "next", ref: `vault:secret/data/tenants/${acme.orgId}/missing#key` });
    expect(missing.status).toBe(400);
    expect(missing.body.errors).toEqual([{ field: "ref", message: `cannot be resolved: vault:secret/data/tenants/${acme.orgId}/missing#key: Vault has no secret at this path (404; for a KV version 2 engine the path includes data/, e.g. secret/data/app)` }]);
    vault.failWith(503);
    try {
      const sealed = await app.call("POST", `/v1/ingress-routes/${route.id}/secrets`, acme.token, { id: "next", ref: `vault:secret/data/tenants/${acme.orgId}/github#webhook_secret` });
      expect(sealed.status).toBe(400);
      expect(sealed.body.errors[0].message).toMatch(/Vault is sealed, in standby or unavailable \(503\)$/);
      expect(JSON.stringify(sealed.body)).not.toContain(VAULT_TOKEN);
    } finally {
      vault.failWith(undefined);
    }
    const details = await app.call("GET", `/v1/ingress-routes/${route.id}`, acme.token);
    expect(details.body.secrets.map((s: { id: string }) => s.id)).toEqual(["first"]);
    const both = await app.call("POST", `/v1/ingress-routes/${route.id}/secrets`, acme.token, { value: "x", ref: "env:HOOKLEDGER_TEST_SHARED_GITHUB" });
    expect(both.body.errors).toEqual([{ field: "value", message: "give either value or ref, not both" }]);
  });

  it("checks a resolved value like a given one: a whsec_ preset refuses a Vault value of another form", async () => {
    vault.put(`secret/data/tenants/${acme.orgId}/standard`, { plain: "not-a-whsec-secret" });
    const refused = await app.call("POST", "/v1/ingress-routes", acme.token, {
      name: "standard",
      auth: { type: "hmac", preset: "standard-webhooks" },
      secrets: [{ ref: `vault:secret/data/tenants/${acme.orgId}/standard#plain` }],
    });
    expect(refused.status).toBe(400);
    expect(refused.body.errors[0]).toMatchObject({ field: "secrets.0.ref", message: expect.stringMatching(/needs a whsec_ secret/) });
  });
});

describe("secret references in settings", () => {
  it("stops start-up naming the setting when a Vault reference cannot be resolved", async () => {
    const other = await createTestDatabase();
    try {
      await expect(startTestApp(other, {
        env: {
          HOOKLEDGER_ENCRYPTION_KEYS: "vault:secret/data/hookledger/instance#keyring",
          HOOKLEDGER_VAULT_ADDR: vault.url,
          HOOKLEDGER_VAULT_TOKEN: "env:HOOKLEDGER_TEST_VAULT_TOKEN",
        },
      })).rejects.toThrow('HOOKLEDGER_ENCRYPTION_KEYS: vault:secret/data/hookledger/instance#keyring: the secret has no key "keyring"');
    } finally {
      await other.drop();
    }
  });
});
