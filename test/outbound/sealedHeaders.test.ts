/**
 * Custom header values of credential-like names are sealed under the keyring in the ledger and the projection, and
 * delivered as given: through the API, a real worker and a real receiver on 127.0.0.1. Rows and entries written in
 * clear before sql/087 keep delivering; the next write of the headers or `seal-subscription-headers` seals them, and
 * the command moves sealed values to a new key after a keyring rotation.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecryptionError } from "../../src/crypto/errors.ts";
import { generateKeyringSpec, parseKeyring } from "../../src/crypto/keyring.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { ANY_VERSION } from "../../src/ledger/append.ts";
import { sealSubscriptionHeaders } from "../../src/outbound/headerSealing.ts";
import { openHeaders } from "../../src/outbound/sealedHeaders.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let t: Awaited<ReturnType<typeof outboundTenant>>;

const API_KEY = "k_live_5f1c0ffee5eed5a1t";
const BEARER = "Bearer tok_9d8e7f6a5b4c3d2e1f";

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true });
  receiver = await startReceiver();
  t = await outboundTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

/** Every ledger entry of the subscription's stream, as text. */
const ledgerText = async (subscriptionId: string) =>
  (await db.owner<{ data: string }[]>`select data::text as data from hookledger.ledger where stream = ${`subscription:${subscriptionId}`} order by version`).map((row) => row.data);
/** The whole projection row, as text. */
const rowText = async (subscriptionId: string) =>
  (await db.owner<{ row: string }[]>`select s::text as row from hookledger.subscriptions s where subscription_id = ${subscriptionId}`)[0]?.row ?? "";
const storedHeaders = async (subscriptionId: string) =>
  (await db.owner<{ headers: Record<string, string>; sealed_headers: Record<string, string> }[]>`
    select headers, sealed_headers from hookledger.subscriptions where subscription_id = ${subscriptionId}`)[0];

/** Sends one event to the subscription's path and returns the request the receiver got. */
async function deliveredTo(path: string, eventId: string) {
  const before = receiver.requests.filter((request) => request.path === path).length;
  // Through the app running now (the rotation test restarts it; `t` calls the first one).
  const sent = await app.call("POST", "/v1/events", t.token, { app_id: t.appId, event_type: "invoice.paid", payload: { amount: 42 }, event_id: eventId });
  expect(sent.status).toBe(202);
  const requests = await receiver.waitFor(before + 1, path);
  return requests[before]!;
}

describe("credential-like custom header values at rest", () => {
  it("keeps them out of the ledger and the projection in clear, shows the plain ones, and delivers all exactly", async () => {
    receiver.respond("/sealed", { status: 200, body: `echo ${API_KEY}` });
    const created = await t.subscribe({ url: receiver.url("/sealed"), event_types: ["invoice.paid"], headers: { "X-Api-Key": API_KEY, Authorization: BEARER, "X-Tenant": "acme-eu" } });
    expect(created.headers).toEqual({ "x-api-key": API_KEY, authorization: BEARER, "x-tenant": "acme-eu" });

    for (const text of [...(await ledgerText(created.id)), await rowText(created.id)]) {
      expect(text).not.toContain(API_KEY);
      expect(text).not.toContain("tok_9d8e7f6a5b4c3d2e1f");
    }
    expect((await ledgerText(created.id))[0]).toContain("acme-eu");
    const stored = await storedHeaders(created.id);
    expect(stored?.headers).toEqual({ "x-tenant": "acme-eu" });
    expect(Object.keys(stored?.sealed_headers ?? {}).sort()).toEqual(["authorization", "x-api-key"]);
    expect((await app.call("GET", `/v1/subscriptions/${created.id}`, t.token)).body.headers).toEqual({ "x-api-key": "[redacted]", authorization: "[redacted]", "x-tenant": "acme-eu" });

    const delivered = await deliveredTo("/sealed", "sealed_1");
    expect(delivered.headers["x-api-key"]).toBe(API_KEY);
    expect(delivered.headers["authorization"]).toBe(BEARER);
    expect(delivered.headers["x-tenant"]).toBe("acme-eu");
    // The receiver echoed the key: the attempt's excerpt hides it, as it did when the key was stored in clear.
    await t.settled("sealed_1", "succeeded");
    const [attempt] = (await app.call("GET", `/v1/attempts?subscription_id=${created.id}`, t.token)).body.data;
    expect(attempt.response_excerpt).toBe("echo [redacted]");
  });

  it("keeps the sealed value for [redacted] sent back and replaces it with a new one, never in clear", async () => {
    const created = await t.subscribe({ url: receiver.url("/patched"), event_types: ["invoice.paid"], headers: { "X-Api-Key": API_KEY, "X-Tenant": "one" } });
    const kept = await app.call("PATCH", `/v1/subscriptions/${created.id}`, t.token, { headers: { "x-api-key": "[redacted]", "x-tenant": "two" } });
    expect(kept.status).toBe(200);
    expect(kept.body.headers).toEqual({ "x-api-key": "[redacted]", "x-tenant": "two" });
    const first = await deliveredTo("/patched", "patched_1");
    expect([first.headers["x-api-key"], first.headers["x-tenant"]]).toEqual([API_KEY, "two"]);

    const replaced = await app.call("PATCH", `/v1/subscriptions/${created.id}`, t.token, { headers: { "x-api-key": "k_live_rotated_0000111122", "x-tenant": "two" } });
    expect(replaced.status).toBe(200);
    const second = await deliveredTo("/patched", "patched_2");
    expect(second.headers["x-api-key"]).toBe("k_live_rotated_0000111122");
    for (const text of [...(await ledgerText(created.id)), await rowText(created.id)]) {
      expect(text).not.toContain(API_KEY);
      expect(text).not.toContain("k_live_rotated_0000111122");
    }
    // An update that does not name headers leaves both maps as they are.
    const before = await storedHeaders(created.id);
    expect((await app.call("PATCH", `/v1/subscriptions/${created.id}`, t.token, { description: "renamed" })).status).toBe(200);
    expect(await storedHeaders(created.id)).toEqual(before);
  });

  it("treats a plain header's value that looks sealed as a value, and a sealed value moved elsewhere does not open", async () => {
    const lookalike = "v1.kdeadbeef.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBB";
    const created = await t.subscribe({ url: receiver.url("/lookalike"), event_types: ["invoice.paid"], headers: { "X-Tenant": lookalike } });
    expect((await deliveredTo("/lookalike", "lookalike_1")).headers["x-tenant"]).toBe(lookalike);
    expect((await app.call("GET", `/v1/subscriptions/${created.id}`, t.token)).body.headers).toEqual({ "x-tenant": lookalike });

    // Auditors see the names of sealed headers among the others, as before sealing, never their sealed bytes.
    const sealedOne = await t.subscribe({ url: receiver.url("/audited"), event_types: ["user.created"], headers: { "X-Api-Key": API_KEY, "X-Tenant": "b" } });
    const [audited] = await db.owner<{ redacted: Record<string, unknown> }[]>`
      select redacted_data as redacted from hookledger.ledger where stream = ${`subscription:${sealedOne.id}`} and type = 'subscription.created'`;
    expect(audited?.redacted["headers"]).toEqual(["x-tenant", "x-api-key"]);
    expect(audited?.redacted).not.toHaveProperty("sealed_headers");

    // A sealed value is bound to its subscription and header name.
    const sealed = (await storedHeaders(sealedOne.id))!.sealed_headers["x-api-key"] as string;
    expect(openHeaders(app.ctx.keyring, sealedOne.id, { headers: {}, sealed_headers: { "x-api-key": sealed } })).toEqual({ "x-api-key": API_KEY });
    expect(() => openHeaders(app.ctx.keyring, created.id, { headers: {}, sealed_headers: { "x-api-key": sealed } })).toThrow(DecryptionError);
    expect(() => openHeaders(app.ctx.keyring, sealedOne.id, { headers: {}, sealed_headers: { authorization: sealed } })).toThrow(DecryptionError);
  });

  it("delivers a credential-like value an entry recorded in clear before sealing, and a PATCH keeping it seals it", async () => {
    const created = await t.subscribe({ url: receiver.url("/legacy"), event_types: ["invoice.paid"] });
    // As the code before sql/087 recorded a PATCH of headers: every value in `headers`, no sealed_headers.
    await withTenant(app.ctx.sql, t.orgId, (tx) =>
      app.ctx.ledger.record(tx, `subscription:${created.id}`, ANY_VERSION, [
        { type: "subscription.updated", data: { subscription_id: created.id, headers: { "x-api-key": "legacy-key-abc123", "x-tenant": "old" } }, meta: { actor: { kind: "system" } } },
      ]),
    );
    expect(await rowText(created.id)).toContain("legacy-key-abc123");
    expect((await app.call("GET", `/v1/subscriptions/${created.id}`, t.token)).body.headers).toEqual({ "x-api-key": "[redacted]", "x-tenant": "old" });
    const before = await deliveredTo("/legacy", "legacy_1");
    expect([before.headers["x-api-key"], before.headers["x-tenant"]]).toEqual(["legacy-key-abc123", "old"]);

    // Sent back as shown, the clear value is kept, now sealed.
    expect((await app.call("PATCH", `/v1/subscriptions/${created.id}`, t.token, { headers: { "x-api-key": "[redacted]", "x-tenant": "old" } })).status).toBe(200);
    expect(await rowText(created.id)).not.toContain("legacy-key-abc123");
    expect((await ledgerText(created.id)).at(-1)).not.toContain("legacy-key-abc123");
    const after = await deliveredTo("/legacy", "legacy_2");
    expect([after.headers["x-api-key"], after.headers["x-tenant"]]).toEqual(["legacy-key-abc123", "old"]);
  });

  it("seals what was recorded in clear with seal-subscription-headers, once", async () => {
    const created = await t.subscribe({ url: receiver.url("/legacy-command"), event_types: ["invoice.paid"] });
    await withTenant(app.ctx.sql, t.orgId, (tx) =>
      app.ctx.ledger.record(tx, `subscription:${created.id}`, ANY_VERSION, [
        { type: "subscription.updated", data: { subscription_id: created.id, headers: { authorization: "Bearer legacy-token-77", "x-tenant": "old" } }, meta: { actor: { kind: "system" } } },
      ]),
    );
    const versionBefore = (await ledgerText(created.id)).length;
    expect(await sealSubscriptionHeaders(app.ctx, t.orgId)).toEqual({ subscriptions: 1, values: 1, unopened: 0 });
    expect(await rowText(created.id)).not.toContain("legacy-token-77");
    const entries = await db.owner<{ data: string; meta: { actor: { kind: string } } }[]>`
      select data::text as data, meta from hookledger.ledger where stream = ${`subscription:${created.id}`} order by version`;
    expect(entries).toHaveLength(versionBefore + 1);
    expect(entries.at(-1)?.data).not.toContain("legacy-token-77");
    expect(entries.at(-1)?.meta.actor.kind).toBe("system");
    const after = await deliveredTo("/legacy-command", "legacy_command_1");
    expect([after.headers["authorization"], after.headers["x-tenant"]]).toEqual(["Bearer legacy-token-77", "old"]);
    // Nothing left to seal: a second run writes nothing.
    expect((await sealSubscriptionHeaders(app.ctx, t.orgId)).subscriptions).toBe(0);
  });

  it("opens values sealed under an older key after a keyring rotation, and sealing moves them to the active key", async () => {
    const created = await t.subscribe({ url: receiver.url("/rotated"), event_types: ["invoice.paid"], headers: { "X-Api-Key": API_KEY } });
    const oldSpec = process.env.HOOKLEDGER_TEST_KEYRING as string;
    const newSpec = generateKeyringSpec();
    const newKeyId = newSpec.split(":")[0];
    await app.stop();
    process.env.HOOKLEDGER_TEST_ROTATED_KEYRING = `${newSpec},${oldSpec}`;
    app = await startTestApp(db, { worker: true, env: { HOOKLEDGER_ENCRYPTION_KEYS: "env:HOOKLEDGER_TEST_ROTATED_KEYRING" } });
    expect((await deliveredTo("/rotated", "rotated_1")).headers["x-api-key"]).toBe(API_KEY);

    expect((await sealSubscriptionHeaders(app.ctx, t.orgId)).subscriptions).toBeGreaterThanOrEqual(1);
    const stored = await storedHeaders(created.id);
    expect(stored?.sealed_headers["x-api-key"]?.split(".")[1]).toBe(newKeyId);
    // The projection's values now open with the new key alone (signing secrets still need the old one).
    expect(openHeaders(parseKeyring(newSpec), created.id, stored!)).toEqual({ "x-api-key": API_KEY });
    expect((await deliveredTo("/rotated", "rotated_2")).headers["x-api-key"]).toBe(API_KEY);
  });

  it("leaves a subscription whose values do not open (their key left the keyring) as it is, counted, and seals the others", async () => {
    // Through the app running now (the rotation test restarted it; `t` calls the first one).
    const unopenable = (await app.call("POST", "/v1/subscriptions", t.token, { app_id: t.appId, url: receiver.url("/unopenable"), event_types: ["user.created"], headers: { "X-Api-Key": API_KEY } })).body;
    const before = await storedHeaders(unopenable.id);
    const onlyNew = generateKeyringSpec();
    await app.stop();
    process.env.HOOKLEDGER_TEST_NEW_KEYRING_ONLY = onlyNew;
    app = await startTestApp(db, { worker: false, env: { HOOKLEDGER_ENCRYPTION_KEYS: "env:HOOKLEDGER_TEST_NEW_KEYRING_ONLY" } });
    const legacy = await app.call("POST", "/v1/subscriptions", t.token, { app_id: t.appId, url: receiver.url("/sealable"), event_types: ["user.created"] });
    await withTenant(app.ctx.sql, t.orgId, (tx) =>
      app.ctx.ledger.record(tx, `subscription:${legacy.body.id}`, ANY_VERSION, [
        { type: "subscription.updated", data: { subscription_id: legacy.body.id, headers: { authorization: "Bearer legacy-token-88" } }, meta: { actor: { kind: "system" } } },
      ]),
    );

    const sealing = await sealSubscriptionHeaders(app.ctx, t.orgId);
    expect(sealing.subscriptions).toBe(1);
    expect(sealing.unopened).toBeGreaterThanOrEqual(1);
    expect(await storedHeaders(unopenable.id)).toEqual(before);
    expect((await storedHeaders(legacy.body.id))?.sealed_headers["authorization"]?.split(".")[1]).toBe(onlyNew.split(":")[0]);
  });
});
