/**
 * An ingress route whose verification secret the keyring cannot open (its key removed before `reencrypt` moved the
 * secret off it, a key id reused, the row altered): a signed request to it is answered 503 `secret-unavailable`,
 * the same neutral answer the API gives its tenants, and nothing is recorded, so the sender retries and is served
 * once the operator has fixed the keyring. The secret is broken and repaired in the database as the owner role.
 */
import { sign as signGithub } from "@octokit/webhooks-methods";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { MISSING_KEY_ID, onMissingKey } from "../support/missingKey.ts";
import { inboundTenant, postWebhook } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof inboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: false });
  t = await inboundTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

const SECRET = "gh-route-secret-7f3a";

const recorded = async (routeId: string) => {
  const [row] = await db.owner<{ receipts: number; entries: number }[]>`
    select (select count(*)::int from hookledger.ingress_receipts where route_id = ${routeId}) as receipts,
           (select count(*)::int from hookledger.ledger where type = 'ingress.received' and data->>'route_id' = ${routeId}) as entries`;
  return row;
};

describe("a request to an ingress route whose secret the keyring cannot open", () => {
  it("is answered 503 secret-unavailable, naming no key or setting, records nothing, and is received once the secret is repaired", async () => {
    await t.createQueue("held");
    const route = await t.createRoute({ auth: { type: "hmac", preset: "github" }, queue: "held", secrets: [{ id: "gh-1", value: SECRET }] });
    // Moved onto a key id the keyring does not hold, before the route was ever loaded (a loaded route is cached).
    const [row] = await db.owner<{ ciphertext: string }[]>`select ciphertext from hookledger.ingress_route_secrets where route_id = ${route.id}`;
    await db.owner`update hookledger.ingress_route_secrets set ciphertext = ${onMissingKey(db.owner, "ciphertext")} where route_id = ${route.id}`;

    const body = '{"ref":"refs/heads/main"}';
    const headers = { "X-Hub-Signature-256": await signGithub(SECRET, body), "X-GitHub-Event": "push", "X-GitHub-Delivery": "held-1" };
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const refused = await postWebhook(app, route.id, body, headers);
      expect(refused.status).toBe(503);
      expect(refused.headers.get("content-type")).toBe("application/problem+json");
      expect(refused.body.type).toBe("urn:hookledger:problem:secret-unavailable");
      expect(refused.body.detail).toBe("this instance cannot open a secret this request needs with its encryption keys; nothing was done; its operator's log says which key to check");
      const text = JSON.stringify(refused.body);
      for (const leak of [MISSING_KEY_ID, "HOOKLEDGER_", "reencrypt", SECRET, row!.ciphertext.split(".")[3]!]) expect(text).not.toContain(leak);
    }
    expect(await recorded(route.id)).toEqual({ receipts: 0, entries: 0 });

    await db.owner`update hookledger.ingress_route_secrets set ciphertext = ${row!.ciphertext} where route_id = ${route.id}`;
    const received = await postWebhook(app, route.id, body, headers);
    expect(received.status).toBe(202);
    expect(await recorded(route.id)).toEqual({ receipts: 1, entries: 1 });
    const [message] = (await app.call("POST", "/v1/pull/held/dequeue", t.token, {})).body.messages;
    expect(Buffer.from(message.receipt.body_base64, "base64").toString("utf8")).toBe(body);
  });
});
