/**
 * A subscription whose signing secret or sealed header the keyring cannot open (its key removed too early, its id
 * reused, the row altered) holds back its own deliveries only: through the API, a real worker and a real receiver
 * on 127.0.0.1, with the secret broken and then repaired in the database as the owner role. Requests that must open
 * it answer the `secret-unavailable` problem.
 */
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { MISSING_KEY_ID, onMissingKey } from "../support/missingKey.ts";
import { recordingLogger, type LoggedLine } from "../support/recordingLogger.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let t: Awaited<ReturnType<typeof outboundTenant>>;
const logged: LoggedLine[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  // Deliveries held back come round again after the circuit cooldown: 1 s here, so the repair is seen quickly.
  app = await startTestApp(db, { worker: true, env: { HOOKLEDGER_CIRCUIT_COOLDOWN_SECONDS: "1" }, log: recordingLogger(logged) });
  receiver = await startReceiver();
  t = await outboundTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

const PROBLEM_TYPE = "urn:hookledger:problem:secret-unavailable";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Moves the subscription's signing secret onto a key id the keyring does not hold; answers the original ciphertext. */
async function breakSigningSecret(subscriptionId: string): Promise<string> {
  const [row] = await db.owner<{ ciphertext: string }[]>`select ciphertext from hookledger.subscription_secrets where subscription_id = ${subscriptionId}`;
  await db.owner`update hookledger.subscription_secrets set ciphertext = ${onMissingKey(db.owner, "ciphertext")} where subscription_id = ${subscriptionId}`;
  return row!.ciphertext;
}
const restoreSigningSecret = (subscriptionId: string, ciphertext: string) =>
  db.owner`update hookledger.subscription_secrets set ciphertext = ${ciphertext} where subscription_id = ${subscriptionId}`;

/** Alters the last character of a sealed header value (it no longer authenticates); answers the original maps. */
async function breakSealedHeader(subscriptionId: string, name: string): Promise<Record<string, string>> {
  const [row] = await db.owner<{ sealed_headers: Record<string, string> }[]>`select sealed_headers from hookledger.subscriptions where subscription_id = ${subscriptionId}`;
  const sealed = row!.sealed_headers[name]!;
  const altered = `${sealed.slice(0, -2)}${sealed.endsWith("AA") ? "BB" : "AA"}`;
  await db.owner`update hookledger.subscriptions set sealed_headers = ${db.owner.json({ ...row!.sealed_headers, [name]: altered })} where subscription_id = ${subscriptionId}`;
  return row!.sealed_headers;
}
const restoreSealedHeaders = (subscriptionId: string, sealed: Record<string, string>) =>
  db.owner`update hookledger.subscriptions set sealed_headers = ${db.owner.json(sealed)} where subscription_id = ${subscriptionId}`;

const deliveriesOf = (subscriptionId: string) =>
  db.owner<{ status: string; attempts: number }[]>`select status, attempts from hookledger.deliveries where subscription_id = ${subscriptionId}`;
const attemptRows = async (subscriptionId: string) =>
  (await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.delivery_attempts where subscription_id = ${subscriptionId}`)[0]?.n;
const deferredForSecrets = async () =>
  (await app.ctx.metrics.deliveriesDeferred.get()).values.filter((value) => value.labels.reason === "secret unavailable").reduce((sum, value) => sum + value.value, 0);

/** Each request verifies with the secret and carries the event it was sent for. */
function expectSigned(requests: { headers: Record<string, unknown>; body: Buffer }[], secret: string, eventIds: string[]) {
  expect(requests.map((request) => request.headers["webhook-id"]).sort()).toEqual([...eventIds].sort());
  for (const request of requests) {
    expect(new Webhook(secret).verify(request.body.toString("utf8"), request.headers as Record<string, string>)).toEqual({ amount: 42 });
  }
}

describe("a subscription the keyring cannot open", () => {
  it("holds back its own deliveries unattempted, sends the organization's others, and sends its own once repaired", async () => {
    const healthy = await t.subscribe({ url: receiver.url("/healthy"), event_types: ["invoice.paid"] });
    const unkeyed = await t.subscribe({ url: receiver.url("/unkeyed"), event_types: ["invoice.paid"] });
    const altered = await t.subscribe({ url: receiver.url("/altered"), event_types: ["invoice.paid"], headers: { "X-Api-Key": "k_live_held_back_1" } });
    const ciphertext = await breakSigningSecret(unkeyed.id);
    const sealed = await breakSealedHeader(altered.id, "x-api-key");

    const eventIds = ["evt_held_1", "evt_held_2", "evt_held_3"];
    for (const eventId of eventIds) expect((await t.send({ event_id: eventId })).status).toBe(202);

    // The healthy endpoint gets every event, signed; the load did not fail for the organization's whole batch.
    expectSigned(await receiver.waitFor(3, "/healthy"), healthy.secret, eventIds);
    await expect.poll(() => deliveriesOf(healthy.id), { timeout: 10_000 }).toEqual(eventIds.map(() => ({ status: "succeeded", attempts: 1 })));

    // The others wait through several cooldowns: no request, no attempt, still pending with no attempt counted.
    await sleep(2_500);
    for (const broken of [unkeyed, altered]) {
      expect(receiver.requests.filter((request) => request.path === (broken === unkeyed ? "/unkeyed" : "/altered"))).toHaveLength(0);
      expect(await attemptRows(broken.id)).toBe(0);
      expect(await deliveriesOf(broken.id)).toEqual(eventIds.map(() => ({ status: "pending", attempts: 0 })));
    }
    expect(await deferredForSecrets()).toBeGreaterThanOrEqual(6);
    // The operator's log names each broken subscription and the key id to look for, once, not on every load that
    // met it (each cooldown brings its deliveries round again): never a stored value.
    const unopened = logged.filter((line) => line.level === "error" && line.msg.includes("cannot be opened with the encryption keyring"));
    expect(unopened.map((line) => line.fields?.subscription_id).sort()).toEqual([unkeyed.id, altered.id].sort());
    expect(unopened.find((line) => line.fields?.subscription_id === unkeyed.id)?.fields).toMatchObject({ org_id: t.orgId, key_ids: [MISSING_KEY_ID], reason: "UnknownKeyError" });
    expect(unopened.find((line) => line.fields?.subscription_id === altered.id)?.fields).toMatchObject({ reason: "DecryptionError" });
    const text = JSON.stringify(unopened);
    expect(text).not.toContain(ciphertext.split(".")[3]);
    for (const value of Object.values(sealed)) expect(text).not.toContain(value.split(".")[3]);

    // Repaired, they go out with the attempt they were waiting to make.
    await restoreSigningSecret(unkeyed.id, ciphertext);
    await restoreSealedHeaders(altered.id, sealed);
    expectSigned(await receiver.waitFor(3, "/unkeyed"), unkeyed.secret, eventIds);
    const sent = await receiver.waitFor(3, "/altered");
    expectSigned(sent, altered.secret, eventIds);
    for (const request of sent) {
      expect(request.headers["x-api-key"]).toBe("k_live_held_back_1");
      expect(request.headers["x-hookledger-attempt"]).toBe("1");
    }
    for (const broken of [unkeyed, altered]) {
      await expect.poll(() => deliveriesOf(broken.id), { timeout: 10_000 }).toEqual(eventIds.map(() => ({ status: "succeeded", attempts: 1 })));
      expect(await attemptRows(broken.id)).toBe(3);
    }
  });
});

describe("requests that must open a secret the keyring cannot open", () => {
  it("answer 503 secret-unavailable telling the operator what to check, never the stored value, until repaired", async () => {
    const sub = await t.subscribe({ url: receiver.url("/asked"), event_types: ["invoice.paid"], headers: { "X-Api-Key": "k_live_asked_1" } });
    const ciphertext = await breakSigningSecret(sub.id);
    const sealed = await breakSealedHeader(sub.id, "x-api-key");
    const eventsBefore = (await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.events`)[0]?.n;

    const answers = [
      await app.call("GET", `/v1/subscriptions/${sub.id}/secret`, t.token),
      await app.call("POST", `/v1/subscriptions/${sub.id}/test`, t.token),
      // Keeping a sealed value ([redacted]) opens it to seal it anew.
      await app.call("PATCH", `/v1/subscriptions/${sub.id}`, t.token, { headers: { "X-Api-Key": "[redacted]", "X-Tenant": "acme" } }),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(503);
      expect(answer.headers.get("content-type")).toBe("application/problem+json");
      expect(answer.body.type).toBe(PROBLEM_TYPE);
      // What to do is the operator's (the log): the caller learns no setting, command or key id.
      expect(answer.body.detail).toBe("this instance cannot open a secret this request needs with its encryption keys; nothing was done; its operator's log says which key to check");
      const text = JSON.stringify(answer.body);
      expect(text).not.toContain(ciphertext.split(".")[3]);
      expect(text).not.toContain(MISSING_KEY_ID);
      for (const value of Object.values(sealed)) expect(text).not.toContain(value.split(".")[3]);
    }
    // Nothing was sent, recorded or changed.
    expect(receiver.requests.filter((request) => request.path === "/asked")).toHaveLength(0);
    expect((await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.events`)[0]?.n).toBe(eventsBefore);
    expect((await app.call("GET", `/v1/subscriptions/${sub.id}`, t.token)).body.headers).toEqual({ "x-api-key": "[redacted]" });

    await restoreSigningSecret(sub.id, ciphertext);
    await restoreSealedHeaders(sub.id, sealed);
    const revealed = await app.call("GET", `/v1/subscriptions/${sub.id}/secret`, t.token);
    expect(revealed.status).toBe(200);
    expect(revealed.body.secret).toBe(sub.secret);
    expect((await app.call("POST", `/v1/subscriptions/${sub.id}/test`, t.token)).status).toBe(200);
  });
});
