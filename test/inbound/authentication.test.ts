/**
 * Route secrets (windows, references, rotation at the boundaries), basic auth, and forward auth failing closed.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { sign as signGithub } from "@octokit/webhooks-methods";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { stripeWebhooks } from "./signers.ts";
import { inboundTenant, postWebhook } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let t: Awaited<ReturnType<typeof inboundTenant>>;
let folder: string;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  receiver = await startReceiver();
  t = await inboundTenant(app);
  folder = await mkdtemp(path.join(tmpdir(), "hookledger-inbound-"));
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db?.drop();
  await rm(folder, { recursive: true, force: true });
});

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

describe("secrets", () => {
  it("verifies with the secret valid at the signed timestamp, at both edges of a rotation", async () => {
    // The cut-over lies 100 s ahead, so requests signed on either side of it are inside the tolerance now.
    const boundary = Math.floor(Date.now() / 1000) + 100;
    const route = await t.createRoute({ auth: { type: "hmac", preset: "stripe" }, secrets: [{ id: "old", value: "whsec_old", valid_from: iso(boundary - 3600) }] });
    const added = await app.call("POST", `/v1/ingress-routes/${route.id}/secrets`, t.token, { id: "new", value: "whsec_new", valid_from: iso(boundary) });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ id: "new", source: "value", valid_from: iso(boundary), valid_until: null });
    const ended = await app.call("PATCH", `/v1/ingress-routes/${route.id}/secrets/old`, t.token, { valid_until: iso(boundary) });
    expect(ended.body).toMatchObject({ id: "old", valid_until: iso(boundary) });

    const send = (secret: string, timestamp: number, n: number) => {
      const body = JSON.stringify({ n });
      return postWebhook(app, route.id, body, { "Stripe-Signature": stripeWebhooks.generateTestHeaderString({ payload: body, secret, timestamp }) });
    };
    // valid_from is inclusive and valid_until exclusive, both compared with the signed time.
    expect((await send("whsec_old", boundary - 1, 1)).status).toBe(202);
    expect((await send("whsec_new", boundary - 1, 2)).status).toBe(401);
    expect((await send("whsec_old", boundary, 3)).status).toBe(401);
    expect((await send("whsec_new", boundary, 4)).status).toBe(202);

    const details = await app.call("GET", `/v1/ingress-routes/${route.id}`, t.token);
    expect(details.body.secrets.map((s: { id: string }) => s.id)).toEqual(["old", "new"]);
    // At any instant exactly one of them is valid, so the other one's signature simply does not match.
    expect(details.body.rejections.by_reason).toEqual({ signature_mismatch: 2 });
    const receipts = await app.call("GET", `/v1/ingress-routes/${route.id}/receipts`, t.token);
    expect(receipts.body.data.map((r: { verification: { secret_id: string } }) => r.verification.secret_id).sort()).toEqual(["new", "old"]);
  });

  it("checks a large body against the route's secrets one at a time, with the same verdicts", async () => {
    // A forged 10 MiB body against 10 secrets held the event loop ~0.4 s in one go (sweep 17); past 256 KB each
    // secret is tried in its own turn. The verdicts must not change: the matching secret is named, a forgery and a
    // secret-independent fault (no signature header) are refused for what they are.
    const secrets = ["one", "two", "three"].map((id) => ({ id, value: `github-secret-${id}` }));
    const route = await t.createRoute({ auth: { type: "hmac", preset: "github" }, secrets });
    const body = JSON.stringify({ blob: "x".repeat(600 * 1024) });
    const signedWith = async (secret: string, delivery: string) =>
      postWebhook(app, route.id, body, { "X-Hub-Signature-256": await signGithub(secret, body), "X-GitHub-Delivery": delivery });
    expect((await signedWith("github-secret-three", "big-3")).status).toBe(202);
    expect((await signedWith("github-secret-one", "big-1")).status).toBe(202);
    expect((await signedWith("not-a-secret-of-the-route", "big-x")).status).toBe(401);
    expect((await postWebhook(app, route.id, body, { "X-GitHub-Delivery": "big-none" })).status).toBe(401);
    const receipts = await app.call("GET", `/v1/ingress-routes/${route.id}/receipts`, t.token);
    expect(receipts.body.data.map((r: { verification: { secret_id: string } }) => r.verification.secret_id).sort()).toEqual(["one", "three"]);
    const details = await app.call("GET", `/v1/ingress-routes/${route.id}`, t.token);
    expect(details.body.rejections.by_reason).toEqual({ signature_mismatch: 1, missing_header: 1 });
  });

  it("refuses references on an instance that allows none (the default), and raw: outside development mode, naming the field", async () => {
    process.env.HOOKLEDGER_TEST_INGRESS_SECRET = "from-the-environment";
    const file = path.join(folder, "secret.txt");
    await writeFile(file, "from-a-file\n");
    for (const ref of ["env:HOOKLEDGER_TEST_INGRESS_SECRET", `file:${file}`, "vault:secret/data/app#key"]) {
      const refused = await app.call("POST", "/v1/ingress-routes", t.token, { name: "bad refs", auth: { type: "hmac", preset: "github" }, secrets: [{ ref }] });
      expect(refused.status).toBe(400);
      expect(refused.body.errors).toEqual([{ field: "secrets.0.ref", message: "secret references are not enabled for organizations on this instance; give the value instead" }]);
    }
    const route = await t.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ value: "given" }] });
    const raw = await app.call("POST", `/v1/ingress-routes/${route.id}/secrets`, t.token, { ref: "raw:inline" });
    expect(raw.status).toBe(400);
    expect(raw.body.errors[0]).toMatchObject({ field: "ref", message: expect.stringMatching(/HOOKLEDGER_DEV_MODE/) });
    // Nothing of the refused requests was kept.
    expect((await app.call("GET", "/v1/ingress-routes", t.token)).body.data.some((r: { name: string }) => r.name === "bad refs")).toBe(false);
    expect((await app.call("GET", `/v1/ingress-routes/${route.id}`, t.token)).body.secrets).toHaveLength(1);
  });

  it("generates a secret when none is given, shows it once, and never writes a secret to the ledger", async () => {
    const route = await t.createRoute({ auth: { type: "hmac", preset: "standard-webhooks" }, secrets: [{}] });
    const generated = route.secrets[0]!.value!;
    expect(generated).toMatch(/^whsec_/);
    const given = await app.call("POST", `/v1/ingress-routes/${route.id}/secrets`, t.token, { value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" });
    expect(given.body).not.toHaveProperty("value");
    const bad = await app.call("POST", `/v1/ingress-routes/${route.id}/secrets`, t.token, { value: "not-a-whsec" });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe("value");
    expect(JSON.stringify((await app.call("GET", `/v1/ingress-routes/${route.id}`, t.token)).body)).not.toContain(generated);

    const ledger = JSON.stringify(await db.owner`select data, meta from hookledger.ledger`);
    for (const secret of [generated, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "from-the-environment", "from-a-file", "whsec_old", "whsec_new"]) {
      expect(ledger).not.toContain(secret);
    }
    const stored = JSON.stringify(await db.owner`select * from hookledger.ingress_route_secrets`);
    expect(stored).not.toContain(generated.slice(6));
    const audit = await app.call("GET", `/v1/audit-log?type=ingress_route.secret_added`, t.token);
    expect(audit.body.data.length).toBeGreaterThanOrEqual(3);
  });

  it("removes a secret, after which it no longer verifies", async () => {
    const route = await t.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ id: "only", value: "gone-soon" }] });
    expect((await app.call("DELETE", `/v1/ingress-routes/${route.id}/secrets/only`, t.token)).status).toBe(204);
    expect((await app.call("DELETE", `/v1/ingress-routes/${route.id}/secrets/only`, t.token)).status).toBe(404);
    const response = await postWebhook(app, route.id, "{}", { "X-Hub-Signature-256": await signGithub("gone-soon", "{}") });
    expect(response.status).toBe(401);
  });
});

describe("route configuration", () => {
  it("names the field for invalid or unknown targets and verifier settings", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ auth: { type: "hmac", preset: "generic" } }, "auth.generic"],
      [{ auth: { type: "hmac", preset: "github", generic: { header: "x-sig", algorithm: "sha256", encoding: "hex", signedPayload: "body" } } }, "auth.generic"],
      [{ auth: { type: "hmac", preset: "nope" } }, "auth.preset"],
      [{ auth: { type: "hmac", preset: "github" }, queue: "no-such-queue" }, "queue"],
      [{ auth: { type: "hmac", preset: "github" }, publish: { app_id: t.appId, event_type: "not.registered" } }, "publish.event_type"],
      [{ auth: { type: "forward", url: "http://user:pw@127.0.0.1/check" } }, "auth.url"],
      [{ auth: { type: "forward", url: "http://169.254.169.254/latest" } }, "auth.url"],
      [{ auth: { type: "basic", username: "a:b" } }, "auth.username"],
    ];
    for (const [body, field] of cases) {
      const response = await app.call("POST", "/v1/ingress-routes", t.token, { name: "bad", ...body });
      expect({ field, status: response.status, fields: response.body.errors?.map((e: { field: string }) => e.field) }).toEqual({ field, status: 400, fields: [field] });
    }
  });

  it("accepts a generic HMAC configuration and verifies with it", async () => {
    const route = await t.createRoute({
      auth: { type: "hmac", preset: "generic", generic: { header: "X-Signature", algorithm: "sha256", encoding: "hex", prefix: "sha256=", signedPayload: "body" } },
      secrets: [{ value: "generic-key" }],
    });
    expect(route.auth.generic.header).toBe("x-signature");
    const { createHmac } = await import("node:crypto");
    const signature = `sha256=${createHmac("sha256", "generic-key").update("{}").digest("hex")}`;
    expect((await postWebhook(app, route.id, "{}", { "X-Signature": signature })).status).toBe(202);
  });

  it("updates and disables a route through PATCH", async () => {
    const route = await t.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ value: "k" }] });
    const patched = await app.call("PATCH", `/v1/ingress-routes/${route.id}`, t.token, { name: "renamed", enabled: false, description: "off for now" });
    expect(patched.body).toMatchObject({ name: "renamed", enabled: false, description: "off for now" });
    expect((await postWebhook(app, route.id, "{}", { "X-Hub-Signature-256": await signGithub("k", "{}") })).status).toBe(404);
    await app.call("PATCH", `/v1/ingress-routes/${route.id}`, t.token, { enabled: true });
    expect((await postWebhook(app, route.id, "{}", { "X-Hub-Signature-256": await signGithub("k", "{}") })).status).toBe(202);
  });
});

describe("basic auth", () => {
  it("accepts the configured user with any current password and refuses the rest alike", async () => {
    const route = await t.createRoute({ auth: { type: "basic", username: "hooks" }, secrets: [{ id: "pw1", value: "correct horse battery" }] });
    await app.call("POST", `/v1/ingress-routes/${route.id}/secrets`, t.token, { id: "pw2", value: "battery staple horse" });
    expect((await postWebhook(app, route.id, "{}", { Authorization: basic("hooks", "correct horse battery") })).status).toBe(202);
    expect((await postWebhook(app, route.id, "{}", { Authorization: basic("hooks", "battery staple horse") })).status).toBe(202);
    for (const authorization of [basic("hooks", "wrong"), basic("other", "correct horse battery"), "Bearer correct horse", undefined]) {
      const response = await postWebhook(app, route.id, "{}", authorization ? { Authorization: authorization } : {});
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe('Basic realm="hookledger"');
    }
    expect((await app.call("GET", `/v1/ingress-routes/${route.id}`, t.token)).body.rejections.by_reason).toEqual({ basic_auth_failed: 4 });
    const receipts = await app.call("GET", `/v1/ingress-routes/${route.id}/receipts`, t.token);
    expect(receipts.body.data[0].headers).not.toHaveProperty("authorization");
    expect(receipts.body.data.map((r: { verification: { secret_id: string } }) => r.verification.secret_id).sort()).toEqual(["pw1", "pw2"]);
  });
});

describe("basic-auth passwords", () => {
  const routeCount = async () => (await app.call("GET", "/v1/ingress-routes?limit=100", t.token)).body.data.length;
  const refusal = (field: string) => ({
    status: 400,
    type: "urn:hookledger:problem:validation",
    errors: [{ field, message: expect.stringMatching(/at least 16 characters/) }],
  });
  const shape = (response: { status: number; body: { type?: string; errors?: unknown } }) => ({ status: response.status, type: response.body.type, errors: response.body.errors });

  it("refuses a literal password shorter than 16 characters at route creation, naming the secret's field, and creates nothing", async () => {
    const before = await routeCount();
    for (const value of ["a", "fifteen-chars!!"]) {
      const response = await app.call("POST", "/v1/ingress-routes", t.token, { name: "weak", auth: { type: "basic", username: "hooks" }, secrets: [{ value: "long-enough-password" }, { value }] });
      expect(shape(response)).toEqual(refusal("secrets.1.value"));
    }
    expect(await routeCount()).toBe(before);
  });

  it("refuses one when it is added to a route, accepts 16 characters or a generated one, and the short one never authenticates", async () => {
    const route = await t.createRoute({ auth: { type: "basic", username: "hooks" }, secrets: [{ id: "a", value: "sixteen-chars-ok" }] });
    expect(shape(await app.call("POST", `/v1/ingress-routes/${route.id}/secrets`, t.token, { id: "c", value: "a" }))).toEqual(refusal("value"));
    expect((await postWebhook(app, route.id, "{}", { Authorization: basic("hooks", "a") })).status).toBe(401);
    const details = await app.call("GET", `/v1/ingress-routes/${route.id}`, t.token);
    expect(details.body.secrets.map((secret: { id: string }) => secret.id)).toEqual(["a"]);
    expect((await app.call("POST", `/v1/ingress-routes/${route.id}/secrets`, t.token, { id: "c", value: "0123456789abcdef" })).status).toBe(201);
    const generated = await app.call("POST", `/v1/ingress-routes/${route.id}/secrets`, t.token, { id: "g" });
    expect(generated.status).toBe(201);
    expect(generated.body.value.length).toBeGreaterThanOrEqual(16);
    expect((await postWebhook(app, route.id, "{}", { Authorization: basic("hooks", "sixteen-chars-ok") })).status).toBe(202);
    expect((await postWebhook(app, route.id, "{}", { Authorization: basic("hooks", generated.body.value) })).status).toBe(202);
  });

  it("keeps HMAC keys of any length, and refuses to make a short literal HMAC key a basic-auth password", async () => {
    const route = await t.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ value: "k" }] });
    expect((await app.call("POST", `/v1/ingress-routes/${route.id}/secrets`, t.token, { value: "x" })).status).toBe(201);
    const switched = await app.call("PATCH", `/v1/ingress-routes/${route.id}`, t.token, { auth: { type: "basic", username: "hooks" } });
    expect(switched.status).toBe(400);
    expect(switched.body.errors).toEqual([{ field: "auth", message: expect.stringMatching(/at least 16 characters/) }]);
    expect((await app.call("GET", `/v1/ingress-routes/${route.id}`, t.token)).body.auth).toMatchObject({ type: "hmac", preset: "github" });
  });
});

describe("forward auth", () => {
  const forwardRoute = (pathName: string, timeoutMs = 2000) =>
    t.createRoute({ auth: { type: "forward", url: receiver.url(pathName), timeout_ms: timeoutMs } });

  it("accepts on 2xx and forwards the sender's headers, not its body", async () => {
    receiver.respond("/auth-ok", { status: 204 });
    const route = await forwardRoute("/auth-ok");
    const response = await postWebhook(app, route.id, '{"x":1}', { Authorization: "Bearer sender-token", "X-Api-Key": "k1" });
    expect(response.status).toBe(202);
    const [check] = await receiver.waitFor(1, "/auth-ok");
    expect(check!.headers).toMatchObject({ authorization: "Bearer sender-token", "x-api-key": "k1", "x-forwarded-method": "POST", "x-forwarded-uri": `/in/${route.id}` });
    expect(check!.body.byteLength).toBe(0);
    const receipts = await app.call("GET", `/v1/ingress-routes/${route.id}/receipts`, t.token);
    expect(receipts.body.data[0].headers).not.toHaveProperty("authorization");
    expect(receipts.body.data[0].headers).not.toHaveProperty("x-api-key");
    expect(receipts.body.data[0].verification).toEqual({ method: "forward" });
  });

  it("passes 401 and 403 on", async () => {
    receiver.respond("/auth-401", { status: 401 });
    receiver.respond("/auth-403", { status: 403 });
    expect((await postWebhook(app, (await forwardRoute("/auth-401")).id, "{}")).status).toBe(401);
    expect((await postWebhook(app, (await forwardRoute("/auth-403")).id, "{}")).status).toBe(403);
  });

  it("fails closed with 503 on a 500, a redirect, a timeout and a refused connection", async () => {
    receiver.respond("/auth-500", { status: 500 });
    receiver.respond("/auth-302", { status: 302, headers: { location: "/auth-ok" } });
    receiver.respond("/auth-slow", { status: 200, delayMs: 3000 });
    const closedPort = await startReceiver();
    const closedUrl = closedPort.url("/auth");
    await closedPort.close();
    const routes = [
      await forwardRoute("/auth-500"),
      await forwardRoute("/auth-302"),
      await forwardRoute("/auth-slow", 300),
      await t.createRoute({ auth: { type: "forward", url: closedUrl, timeout_ms: 1000 } }),
    ];
    const before = (await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger where type = 'ingress.received'`)[0]?.n;
    for (const route of routes) {
      const started = Date.now();
      const response = await postWebhook(app, route.id, "{}");
      expect({ route: route.auth.url, status: response.status }).toEqual({ route: route.auth.url, status: 503 });
      expect(response.headers.get("retry-after")).toBe("5");
      expect(Date.now() - started).toBeLessThan(2500);
      expect((await app.call("GET", `/v1/ingress-routes/${route.id}`, t.token)).body.rejections.by_reason).toEqual({ forward_unavailable: 1 });
    }
    expect((await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger where type = 'ingress.received'`)[0]?.n).toBe(before);
  });

  it("refuses secrets on a forward-auth route", async () => {
    const route = await forwardRoute("/auth-ok");
    const response = await app.call("POST", `/v1/ingress-routes/${route.id}/secrets`, t.token, { value: "x" });
    expect(response.status).toBe(400);
  });
});
