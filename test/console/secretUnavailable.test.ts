/**
 * The console's actions that open a subscription's signing secret (reveal, test) show a page saying what to ask the
 * operator when the keyring cannot open it, not the generic error answer: over plain HTTP against the real service
 * and Postgres, the secret broken and then repaired in the database as the owner role.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, startTestApp, type TestApp } from "../support/app.ts";
import { consoleSession, type ConsoleSession } from "../support/consoleSession.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { MISSING_KEY_ID, onMissingKey } from "../support/missingKey.ts";

let db: TestDatabase;
let app: TestApp;
let session: ConsoleSession;
let subscription: { id: string; secret: string };

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  const tenant = await createTenant(app, "Keyring Co");
  const appId = (await app.call("POST", "/v1/applications", tenant.token, { name: "Billing" })).body.id;
  await app.call("POST", `/v1/applications/${appId}/event-types`, tenant.token, { name: "invoice.paid" });
  subscription = (await app.call("POST", "/v1/subscriptions", tenant.token, { app_id: appId, url: "http://127.0.0.1:9/hook", event_types: ["*"] })).body;
  session = await consoleSession(app, tenant.token);
});
afterAll(async () => {
  await app?.stop();
  await db.drop();
});

describe("a signing secret the keyring cannot open, in the console", () => {
  it("reveal and test answer a page naming what to check, without the stored value, until repaired", async () => {
    const [row] = await db.owner<{ ciphertext: string }[]>`select ciphertext from hookledger.subscription_secrets where subscription_id = ${subscription.id}`;
    const ciphertext = row!.ciphertext;
    await db.owner`update hookledger.subscription_secrets set ciphertext = ${onMissingKey(db.owner, "ciphertext")} where subscription_id = ${subscription.id}`;

    for (const action of ["reveal-secret", "test"]) {
      const answer = await session.post(`/console/subscriptions/${subscription.id}/${action}`, "reason=checking");
      expect(answer.status).toBe(503);
      expect(answer.headers.get("content-type")).toMatch(/^text\/html/);
      const html = await answer.text();
      expect(html).toContain("Secret unavailable");
      expect(html).toContain("HOOKLEDGER_ENCRYPTION_KEYS");
      expect(html).toContain("hookledger reencrypt --dry-run");
      expect(html).not.toContain(ciphertext.split(".")[3]);
      expect(html).not.toContain(MISSING_KEY_ID);
    }

    await db.owner`update hookledger.subscription_secrets set ciphertext = ${ciphertext} where subscription_id = ${subscription.id}`;
    const revealed = await session.post(`/console/subscriptions/${subscription.id}/reveal-secret`, "reason=checking");
    expect(revealed.status).toBe(200);
    const shown = /<code id="revealed-secret">([^<]*)<\/code>/.exec(await revealed.text())?.[1];
    // whsec_ and base64: only "+", "/" and "=" could be escaped, and none of them is.
    expect(shown).toBe(subscription.secret);
  });
});
