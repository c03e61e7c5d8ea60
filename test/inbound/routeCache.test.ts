/**
 * Ingress routes and their secrets are cached per API process (inbound/routeCache.ts); a change made on one process
 * must still take effect on every other within about a second (sql/074's NOTIFY), and on the process that made it
 * before its answer reaches the client.
 */
import { sign as signGithub } from "@octokit/webhooks-methods";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKeyringSpec } from "../../src/crypto/keyring.ts";
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { stripeWebhooks } from "./signers.ts";
import { inboundTenant, postWebhook } from "./setup.ts";

let db: TestDatabase;
let first: TestApp;
let second: TestApp;
let t: Awaited<ReturnType<typeof inboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  first = await startTestApp(db);
  second = await startTestApp(db);
  t = await inboundTenant(first);
});
afterAll(async () => {
  await first?.stop();
  await second?.stop();
  await db?.drop();
});

let deliveries = 0;
/** A GitHub-signed webhook with a delivery id of its own (the replay guard remembers delivery ids). */
const sendSigned = async (app: TestApp, routeId: string, secret: string) => {
  const body = JSON.stringify({ n: ++deliveries });
  return (await postWebhook(app, routeId, body, { "X-Hub-Signature-256": await signGithub(secret, body), "X-GitHub-Delivery": `cache-${deliveries}` })).status;
};

/** Sends until the answer is `expected` or a second has passed; answers the last status. */
async function untilStatus(expected: number, send: () => Promise<number>): Promise<number> {
  const started = Date.now();
  let status = await send();
  while (status !== expected && Date.now() - started < 1000) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    status = await send();
  }
  return status;
}

describe("ingress route cache", () => {
  it("stops accepting webhooks for a route disabled on another process within a second", async () => {
    const route = await t.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ value: "k1" }] });
    // Received on the second process, so the route sits in that process's cache.
    for (let i = 0; i < 3; i++) expect(await sendSigned(second, route.id, "k1")).toBe(202);

    expect((await first.call("PATCH", `/v1/ingress-routes/${route.id}`, t.token, { enabled: false })).status).toBe(200);
    expect(await untilStatus(404, () => sendSigned(second, route.id, "k1"))).toBe(404);

    expect((await first.call("PATCH", `/v1/ingress-routes/${route.id}`, t.token, { enabled: true })).status).toBe(200);
    // Disabled routes are never cached: enabled again, it is found at once.
    expect(await sendSigned(second, route.id, "k1")).toBe(202);
  });

  it("follows a secret rotated on another process within a second", async () => {
    const route = await t.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ id: "old", value: "old-secret" }] });
    expect(await sendSigned(second, route.id, "old-secret")).toBe(202);
    expect(await sendSigned(second, route.id, "new-secret")).toBe(401);

    expect((await first.call("POST", `/v1/ingress-routes/${route.id}/secrets`, t.token, { id: "new", value: "new-secret" })).status).toBe(201);
    expect(await untilStatus(202, () => sendSigned(second, route.id, "new-secret"))).toBe(202);

    expect((await first.call("DELETE", `/v1/ingress-routes/${route.id}/secrets/old`, t.token)).status).toBe(204);
    expect(await untilStatus(401, () => sendSigned(second, route.id, "old-secret"))).toBe(401);
    expect(await sendSigned(second, route.id, "new-secret")).toBe(202);
  });

  it("applies a change on the process that made it before answering it", async () => {
    const route = await t.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ id: "a", value: "secret-a" }] });
    for (let round = 0; round < 5; round++) {
      expect(await sendSigned(first, route.id, "secret-a")).toBe(202);
      expect((await first.call("PATCH", `/v1/ingress-routes/${route.id}`, t.token, { enabled: false })).status).toBe(200);
      expect(await sendSigned(first, route.id, "secret-a")).toBe(404);
      expect((await first.call("PATCH", `/v1/ingress-routes/${route.id}`, t.token, { enabled: true })).status).toBe(200);
    }
    expect((await first.call("POST", `/v1/ingress-routes/${route.id}/secrets`, t.token, { id: "b", value: "secret-b" })).status).toBe(201);
    expect(await sendSigned(first, route.id, "secret-b")).toBe(202);
    expect((await first.call("DELETE", `/v1/ingress-routes/${route.id}/secrets/a`, t.token)).status).toBe(204);
    expect(await sendSigned(first, route.id, "secret-a")).toBe(401);
    expect((await first.call("DELETE", `/v1/ingress-routes/${route.id}`, t.token)).status).toBe(204);
    expect(await sendSigned(first, route.id, "secret-b")).toBe(404);
  });

  it("ends a cached secret's use when its window ends, with no change to the route", async () => {
    let clock = Date.now();
    const timed = await startTestApp(db, { now: () => new Date(clock) });
    try {
      const validUntil = new Date(clock + 60_000).toISOString();
      const route = await t.createRoute({
        auth: { type: "hmac", preset: "github", tolerance_seconds: 60 },
        secrets: [{ id: "ending", value: "ending-secret", valid_until: validUntil }, { id: "next", value: "next-secret" }],
      });
      expect(await sendSigned(timed, route.id, "ending-secret")).toBe(202);
      // Past the window and the route's tolerance after it, the cached copy must not verify with the ended secret.
      clock += 60_000 + 60_000 + 1000;
      expect(await sendSigned(timed, route.id, "ending-secret")).toBe(401);
      expect(await sendSigned(timed, route.id, "next-secret")).toBe(202);
    } finally {
      await timed.stop();
    }
  });
  it("follows a custom path moved on another process within a second", async () => {
    const route = await t.createRoute({ auth: { type: "hmac", preset: "github" }, path: "cache/moving", secrets: [{ value: "kp" }] });
    const byPath = async (path: string) => {
      const body = JSON.stringify({ n: ++deliveries });
      const response = await second.fetch(`/in/${t.orgId}/${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "X-Hub-Signature-256": await signGithub("kp", body), "X-GitHub-Delivery": `path-${deliveries}` },
        body,
      });
      await response.arrayBuffer();
      return response.status;
    };
    expect(await byPath("cache/moving")).toBe(202);
    expect((await first.call("PATCH", `/v1/ingress-routes/${route.id}`, t.token, { path: "cache/moved" })).status).toBe(200);
    expect(await untilStatus(404, () => byPath("cache/moving"))).toBe(404);
    expect(await byPath("cache/moved")).toBe(202);
  });

  it("refuses webhooks for the routes of an organization deleted on another process", async () => {
    const doomed = await inboundTenant(first, "Doomed");
    const route = await doomed.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ value: "kd" }] });
    expect(await sendSigned(second, route.id, "kd")).toBe(202);
    expect((await first.call("DELETE", `/v1/organizations/${doomed.orgId}`, TEST_ADMIN_TOKEN)).status).toBe(204);
    expect(await untilStatus(404, () => sendSigned(second, route.id, "kd"))).toBe(404);
    const [row] = await db.owner<{ enabled: boolean; deleted: boolean }[]>`
      select enabled, deleted_at is not null as deleted from hookledger.ingress_routes where route_id = ${route.id}`;
    expect(row).toEqual({ enabled: false, deleted: true });
  });

  it("takes a change made while its notification connection was down into account", async () => {
    const route = await t.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ value: "kl" }] });
    expect(await sendSigned(second, route.id, "kl")).toBe(202);
    await db.owner`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'hookledger-listen' and datname = current_database()`;
    expect((await first.call("PATCH", `/v1/ingress-routes/${route.id}`, t.token, { enabled: false })).status).toBe(200);
    expect(await untilStatus(404, () => sendSigned(second, route.id, "kl"))).toBe(404);
    expect((await first.call("PATCH", `/v1/ingress-routes/${route.id}`, t.token, { enabled: true })).status).toBe(200);
    expect(await sendSigned(second, route.id, "kl")).toBe(202);
    // Reconnected: changes are announced again.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await sendSigned(second, route.id, "kl")).toBe(202);
    expect((await first.call("PATCH", `/v1/ingress-routes/${route.id}`, t.token, { enabled: false })).status).toBe(200);
    expect(await untilStatus(404, () => sendSigned(second, route.id, "kl"))).toBe(404);
  });

  it("verifies with a secret retired within the route's tolerance from a cached copy", async () => {
    const now = Date.now();
    const route = await t.createRoute({
      auth: { type: "hmac", preset: "stripe", tolerance_seconds: 3600 },
      secrets: [
        { id: "retired", value: "whsec_retired", valid_from: new Date(now - 86_400_000).toISOString(), valid_until: new Date(now - 600_000).toISOString() },
        { id: "current", value: "whsec_current", valid_from: new Date(now - 600_000).toISOString() },
      ],
    });
    const stripe = (secret: string, signedAt: number) => {
      const payload = JSON.stringify({ id: `evt_${++deliveries}` });
      return postWebhook(second, route.id, payload, { "Stripe-Signature": stripeWebhooks.generateTestHeaderString({ payload, secret, timestamp: Math.floor(signedAt / 1000) }) });
    };
    expect((await stripe("whsec_current", Date.now())).status).toBe(202); // loads and caches the route
    // Signed 20 minutes ago, while the retired secret was still valid: within the tolerance, so accepted.
    expect((await stripe("whsec_retired", now - 1_200_000)).status).toBe(202);
    // Signed now with the retired secret: refused.
    expect((await stripe("whsec_retired", Date.now())).status).toBe(401);
  });

  it("does not decrypt secrets retired before the tolerance window (their key may have left the keyring)", async () => {
    process.env.HOOKLEDGER_TEST_KEYRING_OLD = generateKeyringSpec();
    process.env.HOOKLEDGER_TEST_KEYRING_NEW = generateKeyringSpec();
    const before = await startTestApp(db, { env: { HOOKLEDGER_ENCRYPTION_KEYS: "env:HOOKLEDGER_TEST_KEYRING_OLD" } });
    const after = await startTestApp(db, { env: { HOOKLEDGER_ENCRYPTION_KEYS: "env:HOOKLEDGER_TEST_KEYRING_NEW" } });
    try {
      const now = Date.now();
      const created = await before.call("POST", "/v1/ingress-routes", t.token, {
        name: "rotated keys",
        auth: { type: "hmac", preset: "github" },
        secrets: [{ id: "retired", value: "under-the-old-key", valid_from: new Date(now - 86_400_000).toISOString(), valid_until: new Date(now - 7_200_000).toISOString() }],
      });
      expect(created.status).toBe(201);
      expect((await after.call("POST", `/v1/ingress-routes/${created.body.id}/secrets`, t.token, { id: "current", value: "under-the-new-key" })).status).toBe(201);
      expect(await sendSigned(after, created.body.id, "under-the-new-key")).toBe(202);
    } finally {
      await before.stop();
      await after.stop();
    }
  });
});
