/**
 * Changing a route's authentication is checked against the secrets it holds, as creating a route checks the secrets
 * it is given: a route never holds a secret its preset cannot use (every webhook would be a 401 `misconfigured`),
 * whether the change and a new secret come one after another or at the same time.
 */
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSigningSecret } from "../../src/crypto/secrets.ts";
import { ingressRouteStream } from "../../src/inbound/streams.ts";
import { allAtOnce } from "../outbound/allAtOnce.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { inboundTenant, postWebhook } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof inboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  t = await inboundTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

const standardWebhooks = { type: "hmac", preset: "standard-webhooks" };

describe("changing a route's authentication", () => {
  it("refuses a whsec_ preset while the route holds a secret that is not whsec_, as POST does", async () => {
    const refusedOnCreate = await app.call("POST", "/v1/ingress-routes", t.token, { name: "sw", auth: standardWebhooks, secrets: [{ value: "gh-secret" }] });
    expect(refusedOnCreate.status).toBe(400);

    const route = await t.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ id: "gh", value: "gh-secret" }] });
    const refused = await app.call("PATCH", `/v1/ingress-routes/${route.id}`, t.token, { auth: standardWebhooks });
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([{ field: "auth", message: expect.stringContaining("secret gh") }]);
    expect((await app.call("GET", `/v1/ingress-routes/${route.id}`, t.token)).body.auth.preset).toBe("github");
    // An ended secret counts too: its window could be reopened later.
    const secret = generateSigningSecret();
    expect((await app.call("POST", `/v1/ingress-routes/${route.id}/secrets`, t.token, { id: "sw", value: secret })).status).toBe(201);
    expect((await app.call("PATCH", `/v1/ingress-routes/${route.id}/secrets/gh`, t.token, { valid_until: new Date().toISOString() })).status).toBe(200);
    expect((await app.call("PATCH", `/v1/ingress-routes/${route.id}`, t.token, { auth: standardWebhooks })).status).toBe(400);

    expect((await app.call("DELETE", `/v1/ingress-routes/${route.id}/secrets/gh`, t.token)).status).toBe(204);
    const changed = await app.call("PATCH", `/v1/ingress-routes/${route.id}`, t.token, { auth: standardWebhooks });
    expect(changed.status).toBe(200);
    const body = JSON.stringify({ hello: "world" });
    // One instant for the signature and its header: read twice, they may fall on either side of a second.
    const at = new Date();
    const signed = new Webhook(secret).sign("msg_1", at, body);
    const sent = await postWebhook(app, route.id, body, { "webhook-id": "msg_1", "webhook-timestamp": String(Math.floor(at.getTime() / 1000)), "webhook-signature": signed });
    expect(sent.status).toBe(202);
  });

  it("never ends with both a whsec_ preset and a secret that is not whsec_ when the change and the secret come together", async () => {
    const route = await t.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ id: "sw", value: generateSigningSecret() }] });
    const answers = await allAtOnce(db, { kind: "stream", orgId: t.orgId, stream: ingressRouteStream(route.id) }, () => [
      ...Array.from({ length: 5 }, () => app.call("PATCH", `/v1/ingress-routes/${route.id}`, t.token, { auth: standardWebhooks }).then((a) => ({ ...a, kind: "patch" }))),
      ...Array.from({ length: 5 }, (_, i) => app.call("POST", `/v1/ingress-routes/${route.id}/secrets`, t.token, { value: `plain-${i}` }).then((a) => ({ ...a, kind: "add" }))),
    ]);
    const patched = answers.filter((a) => a.kind === "patch" && a.status === 200).length;
    const added = answers.filter((a) => a.kind === "add" && a.status === 201).length;
    for (const answer of answers) expect([200, 201, 400]).toContain(answer.status);
    expect(patched > 0 !== added > 0).toBe(true);
    const after = (await app.call("GET", `/v1/ingress-routes/${route.id}`, t.token)).body;
    if (patched > 0) {
      expect(after.auth.preset).toBe("standard-webhooks");
      expect(after.secrets).toHaveLength(1);
    } else {
      expect(after.auth.preset).toBe("github");
      expect(after.secrets).toHaveLength(6);
    }
  });
});
