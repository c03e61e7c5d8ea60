/**
 * Ingress routes and their secrets are cached per API process (inbound/routeCache.ts); a change made on one process
 * must still take effect on every other within about a second (sql/074's NOTIFY), and on the process that made it
 * before its answer reaches the client.
 */
import { sign as signGithub } from "@octokit/webhooks-methods";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
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
});
