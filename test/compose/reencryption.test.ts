/**
 * `hookledger reencrypt` after a keyring rotation, with real Postgres, the real CLI, a real worker and receiver on
 * 127.0.0.1: signing secrets (rotated ones and a deleted subscription's too), ingress route secrets, sealed custom
 * header values and an idempotency answer written under key A move to key B; the service with B alone then signs,
 * verifies, sends and answers with the same secrets; a second run moves nothing; a rotation of a subscription's
 * secret while the command runs loses nothing; values under a key the keyring lacks are reported by kind and count,
 * never printed, and the command exits 1.
 */
import { execFile } from "node:child_process";
import { sign as signGithub } from "@octokit/webhooks-methods";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeReencryption, reencryptAll } from "../../src/compose/reencryption.ts";
import { encryptSecret } from "../../src/crypto/encryption.ts";
import { generateKeyringSpec, parseKeyring } from "../../src/crypto/keyring.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { expireCurrentSecrets, reencryptSigningSecrets, signingSecrets, storeSecret } from "../../src/outbound/subscriptionSecrets.ts";
import { getSubscriptionForChange } from "../../src/outbound/subscriptionStore.ts";
import { claimKey } from "../../src/tenancy/idempotencyKeys.ts";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { inboundTenant, postWebhook } from "../inbound/setup.ts";
import { outboundTenant } from "../outbound/setup.ts";

const keyIdOf = (spec: string) => spec.split(":")[0] as string;
const A = process.env.HOOKLEDGER_TEST_KEYRING as string;
const B = generateKeyringSpec();
const C = generateKeyringSpec();
const D = generateKeyringSpec();
process.env.HOOKLEDGER_TEST_KEYRING_BA = `${B},${A}`;
process.env.HOOKLEDGER_TEST_KEYRING_B = B;
process.env.HOOKLEDGER_TEST_KEYRING_CB = `${C},${B}`;
process.env.HOOKLEDGER_TEST_KEYRING_D = D;
process.env.HOOKLEDGER_TEST_KEYRING_DC = `${D},${C}`;
const [a, b, c, d] = [A, B, C, D].map(keyIdOf) as [string, string, string, string];
// C's id given to D's key: what an operator who drops the old key and reuses its id for the new one configures.
process.env.HOOKLEDGER_TEST_KEYRING_C_REUSED = `${c}:${D.slice(D.indexOf(":") + 1)}`;

const API_KEY = "k_live_reencrypt_0a1b2c3d4e";
const GITHUB_SECRET = "github-route-secret-8f7e6d5c";

let db: TestDatabase;
let app: TestApp;
let appRunning = true;
let receiver: Receiver;
let t: Awaited<ReturnType<typeof outboundTenant>>;
let inbound: Awaited<ReturnType<typeof inboundTenant>>;
/** What the tenant set up under key A, with the secrets it was shown. */
let before: {
  plain: { id: string; secret: string };
  rotated: { id: string; secret: string; next: string };
  idempotent: { id: string; key: string };
  routeId: string;
};

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true });
  receiver = await startReceiver();
  t = await outboundTenant(app);
  inbound = await inboundTenant(app, "Inbound");

  const plain = await t.subscribe({ url: receiver.url("/plain"), event_types: ["invoice.paid"], headers: { "X-Api-Key": API_KEY, "X-Tenant": "acme" } });
  const rotated = await t.subscribe({ url: receiver.url("/rotated"), event_types: ["invoice.voided"] });
  const rotation = await app.call("POST", `/v1/subscriptions/${rotated.id}/secret/rotate`, t.token, { overlap_seconds: 3600 });
  expect(rotation.status).toBe(200);
  const deleted = await t.subscribe({ url: receiver.url("/deleted"), event_types: ["user.created"] });
  expect((await app.call("DELETE", `/v1/subscriptions/${deleted.id}`, t.token)).status).toBe(204);
  // An answer that carries a secret shown once is not kept; an application's is.
  const key = "create-application-once";
  const idempotent = await app.call("POST", "/v1/applications", t.token, { name: "created once" }, { "Idempotency-Key": key });
  expect(idempotent.status).toBe(201);
  const route = await inbound.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ id: "gh", value: GITHUB_SECRET }] });
  before = {
    plain: { id: plain.id, secret: plain.secret },
    rotated: { id: rotated.id, secret: rotated.secret, next: rotation.body.secret as string },
    idempotent: { id: idempotent.body.id as string, key },
    routeId: route.id,
  };
});
afterAll(async () => {
  if (appRunning) await app?.stop();
  await receiver?.close();
  await db.drop();
});

async function restartWith(keyringVariable: string): Promise<void> {
  await app.stop();
  app = await startTestApp(db, { worker: true, env: { HOOKLEDGER_ENCRYPTION_KEYS: `env:${keyringVariable}` } });
}

/** The key id of every stored encrypted value, per kind, read past RLS. */
async function storedKeyIds() {
  const ids = async (query: Promise<{ v: string }[]>) => (await query).map((row) => row.v.split(".")[1]).sort();
  return {
    signing: await ids(db.owner<{ v: string }[]>`select ciphertext as v from hookledger.subscription_secrets`),
    ingress: await ids(db.owner<{ v: string }[]>`select ciphertext as v from hookledger.ingress_route_secrets`),
    headers: await ids(db.owner<{ v: string }[]>`select sealed.value as v from hookledger.subscriptions, jsonb_each_text(sealed_headers) as sealed`),
    answers: await ids(db.owner<{ v: string }[]>`select answer as v from hookledger.idempotency_keys where answer is not null`),
  };
}
const all = (keyId: string, n: number) => Array.from({ length: n }, () => keyId);

/** Runs the real CLI against the test database, as an operator would next to the running service. */
function cli(args: string[], keyringVariable: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      "node_modules/.bin/bun",
      ["src/main.ts", ...args],
      {
        timeout: 90_000,
        env: {
          ...process.env,
          DATABASE_URL: db.ownerUrl,
          HOOKLEDGER_SERVICE_DATABASE_URL: db.serviceUrl,
          HOOKLEDGER_ENCRYPTION_KEYS: `env:${keyringVariable}`,
          HOOKLEDGER_LOG_LEVEL: "warn",
        },
      },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, output: `${stdout}${stderr}` }),
    );
  });
}

function expectNoSecretIn(text: string): void {
  for (const secret of [before.plain.secret, before.rotated.secret, before.rotated.next]) expect(text).not.toContain(secret.slice(6));
  expect(text).not.toContain(API_KEY);
  expect(text).not.toContain(GITHUB_SECRET);
}

describe("reencrypt after a keyring rotation", () => {
  it("counts in a dry run, moves every value to the new key through the real command, and records only the headers' sealing", async () => {
    // 4 signing secrets: plain's, the rotated pair and the deleted subscription's.
    expect(await storedKeyIds()).toEqual({ signing: all(a, 4), ingress: [a], headers: [a], answers: [a] });
    await restartWith("HOOKLEDGER_TEST_KEYRING_BA");

    const dry = await reencryptAll(app.ctx, { dryRun: true });
    expect(dry.kinds.map((kind) => [kind.name, kind.moves.moved, Object.fromEntries(kind.census.byKeyId)])).toEqual([
      ["subscription signing secrets", 0, { [a]: 4 }],
      ["ingress route secrets", 0, { [a]: 1 }],
      ["subscription custom header values", 0, { [a]: 1 }],
      ["idempotency answers (keys not expired)", 0, { [a]: 1 }],
    ]);
    expect(describeReencryption(dry)).toMatchObject({ ok: true, lines: expect.arrayContaining([`  subscription signing secrets: would move 4; under ${b} (active) 0, ${a} 4`]) });
    expect((await storedKeyIds()).signing).toEqual(all(a, 4));

    const entriesBefore = await db.owner<{ stream: string; type: string }[]>`select stream, type from hookledger.ledger order by position`;
    const run = await cli(["reencrypt"], "HOOKLEDGER_TEST_KEYRING_BA");
    expect(run.output).toContain(`  subscription signing secrets: moved 4; under ${b} (active) 4, ${a} 0`);
    expect(run.output).toContain(`  ingress route secrets: moved 1; under ${b} (active) 1, ${a} 0`);
    expect(run.output).toContain(`  subscription custom header values: moved 1; under ${b} (active) 1, ${a} 0`);
    expect(run.output).toContain(`  idempotency answers (keys not expired): moved 1; under ${b} (active) 1, ${a} 0`);
    expect(run.output).toContain(`every value is under ${b}; ${a} can be removed from HOOKLEDGER_ENCRYPTION_KEYS`);
    expect(run.code).toBe(0);
    expectNoSecretIn(run.output);
    expect(await storedKeyIds()).toEqual({ signing: all(b, 4), ingress: [b], headers: [b], answers: [b] });

    // One entry: the headers' sealing, by the system, as seal-subscription-headers records it; never a secret.
    const added = await db.owner<{ stream: string; type: string; data: unknown; meta: { actor: { kind: string } } }[]>`
      select stream, type, data, meta from hookledger.ledger order by position offset ${entriesBefore.length}`;
    expect(added.map((entry) => [entry.stream, entry.type, entry.meta.actor.kind])).toEqual([[`subscription:${before.plain.id}`, "subscription.updated", "system"]]);
    expectNoSecretIn(JSON.stringify(added));
  });

  it("moves nothing when run again", async () => {
    const again = await reencryptAll(app.ctx, { dryRun: false });
    expect(again.kinds.map((kind) => kind.moves)).toEqual(Array.from({ length: 4 }, () => ({ moved: 0, unopened: 0 })));
    expect(again.kinds.map((kind) => [...kind.census.byKeyId.keys()])).toEqual(Array.from({ length: 4 }, () => [b]));
    expect(describeReencryption(again).ok).toBe(true);
  });

  it("leaves the service with the new key alone signing, sending, verifying and answering with the same secrets", async () => {
    await restartWith("HOOKLEDGER_TEST_KEYRING_B");

    const revealed = await app.call("GET", `/v1/subscriptions/${before.plain.id}/secret`, t.token);
    expect(revealed.status).toBe(200);
    expect(revealed.body.secret).toBe(before.plain.secret);

    // Through the app running now (`t` calls the first one).
    const send = (eventId: string, eventType: string) =>
      app.call("POST", "/v1/events", t.token, { app_id: t.appId, event_type: eventType, payload: { amount: 42 }, event_id: eventId });
    expect((await send("after_reencrypt_1", "invoice.paid")).status).toBe(202);
    const [plain] = await receiver.waitFor(1, "/plain");
    const plainHeaders = plain!.headers as Record<string, string>;
    expect(new Webhook(before.plain.secret).verify(plain!.body.toString(), plainHeaders)).toEqual({ amount: 42 });
    expect([plainHeaders["x-api-key"], plainHeaders["x-tenant"]]).toEqual([API_KEY, "acme"]);

    // Inside the rotation's overlap both secrets still sign.
    expect((await send("after_reencrypt_2", "invoice.voided")).status).toBe(202);
    const [rotated] = await receiver.waitFor(1, "/rotated");
    const rotatedHeaders = rotated!.headers as Record<string, string>;
    expect(() => new Webhook(before.rotated.secret).verify(rotated!.body.toString(), rotatedHeaders)).not.toThrow();
    expect(() => new Webhook(before.rotated.next).verify(rotated!.body.toString(), rotatedHeaders)).not.toThrow();

    const body = JSON.stringify({ ref: "refs/heads/main" });
    const received = await postWebhook(app, before.routeId, body, { "X-Hub-Signature-256": await signGithub(GITHUB_SECRET, body), "X-GitHub-Event": "push" });
    expect(received.status).toBe(202);
    const forged = await postWebhook(app, before.routeId, body, { "X-Hub-Signature-256": await signGithub("another-secret", body), "X-GitHub-Event": "push" });
    expect(forged.status).toBe(401);

    // The kept answer opens with B alone and is the first answer.
    const [kept] = await db.owner<{ request_hash: Uint8Array }[]>`select request_hash from hookledger.idempotency_keys where key = ${before.idempotent.key}`;
    const claim = await claimKey(app.ctx, { orgId: t.orgId, tokenId: t.tokenId, key: before.idempotent.key }, kept!.request_hash, 60_000);
    expect(claim.kind).toBe("answered");
    if (claim.kind === "answered") expect(JSON.parse(claim.answer.body)).toMatchObject({ id: before.idempotent.id, name: "created once" });
  });

  it("keeps a secret a rotation adds, and the overlap it cuts, while it moves the subscription's secrets", async () => {
    await restartWith("HOOKLEDGER_TEST_KEYRING_CB");
    const keyringB = parseKeyring(B);
    const subscriptionId = before.rotated.id;
    const [counted] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.subscription_secrets where subscription_id = ${subscriptionId}`;
    const secretsBefore = counted?.n ?? 0;
    expect(secretsBefore).toBe(2);
    const cutAt = new Date(Date.now() + 600_000);

    // A rotation by a process still on the old keyring, held open after its writes, its subscription locked.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let written!: () => void;
    const rotationWritten = new Promise<void>((resolve) => (written = resolve));
    const rotation = withTenant(app.ctx.sql, t.orgId, async (tx) => {
      await getSubscriptionForChange(tx, subscriptionId);
      await expireCurrentSecrets(tx, subscriptionId, cutAt);
      await storeSecret(tx, keyringB, subscriptionId, "key_added_meanwhile", "whsec_QWRkZWRNZWFud2hpbGVXaGlsZU1vdmluZ1NlY3JldHM=", new Date());
      written();
      await released;
    });
    await rotationWritten;
    const moving = reencryptSigningSecrets(app.ctx.sql, app.ctx.keyring, t.orgId);
    await eventually(async () => {
      const [waiting] = await db.owner<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where datname = ${db.name} and wait_event_type = 'Lock'`;
      return (waiting?.n ?? 0) > 0 ? true : undefined;
    }, 10_000, "the re-encryption to wait for the rotation's lock");
    release();
    await rotation;
    const moved = await moving;
    expect(moved.unopened).toBe(0);

    const rows = await db.owner<{ key_id: string; ciphertext: string; expires_at: Date | null }[]>`
      select key_id, ciphertext, expires_at from hookledger.subscription_secrets where subscription_id = ${subscriptionId} order by created_at`;
    expect(rows).toHaveLength(secretsBefore + 1);
    // Every secret that was there is kept with the overlap the rotation cut, none with the end read before it.
    for (const row of rows.filter((row) => row.key_id !== "key_added_meanwhile")) expect(row.expires_at?.getTime()).toBeLessThanOrEqual(cutAt.getTime());
    // The next run moves what the rotation added under the old key, and then every secret opens with C alone.
    await reencryptSigningSecrets(app.ctx.sql, app.ctx.keyring, t.orgId);
    const onlyC = parseKeyring(C);
    const secrets = await withTenant(app.ctx.sql, t.orgId, (tx) => signingSecrets(tx, onlyC, subscriptionId, new Date()));
    expect(secrets.map((secret) => secret.secret).sort()).toEqual(["whsec_QWRkZWRNZWFud2hpbGVXaGlsZU1vdmluZ1NlY3JldHM=", before.rotated.secret, before.rotated.next].sort());
    expect((await storedKeyIds()).signing.filter((keyId) => keyId !== c)).toEqual([]);
  });

  it("reports values under a key the keyring lacks by kind and count, changes nothing, and exits 1", async () => {
    await app.stop();
    appRunning = false;
    // Move the rest to C first, so what D cannot open is all under C.
    const settled = await cli(["reencrypt"], "HOOKLEDGER_TEST_KEYRING_CB");
    expect(settled.code).toBe(0);
    const stored = await storedKeyIds();
    expect(stored).toEqual({ signing: all(c, 5), ingress: [c], headers: [c], answers: [c] });

    const run = await cli(["reencrypt"], "HOOKLEDGER_TEST_KEYRING_D");
    expect(run.output).toContain(`  subscription signing secrets: moved 0, 5 did not open; under ${d} (active) 0, ${c} (NOT IN THE KEYRING) 5`);
    expect(run.output).toContain(`  ingress route secrets: moved 0, 1 did not open; under ${d} (active) 0, ${c} (NOT IN THE KEYRING) 1`);
    expect(run.output).toContain(`  subscription custom header values: moved 0, 1 did not open; under ${d} (active) 0, ${c} (NOT IN THE KEYRING) 1`);
    expect(run.output).toContain(`  idempotency answers (keys not expired): moved 0, 1 did not open; under ${d} (active) 0, ${c} (NOT IN THE KEYRING) 1`);
    expect(run.output).toContain(`values under keys not in the keyring (8 under ${c}) cannot be opened or moved`);
    expect(run.code).toBe(1);
    expectNoSecretIn(run.output);
    expect(await storedKeyIds()).toEqual(stored);

    const dry = await cli(["reencrypt", "--dry-run"], "HOOKLEDGER_TEST_KEYRING_D");
    expect(dry.output).toContain(`  subscription signing secrets: would move 0; under ${d} (active) 0, ${c} (NOT IN THE KEYRING) 5`);
    expect(dry.output).toContain(`values under keys not in the keyring (8 under ${c}) cannot be opened or moved`);
    // Its last line may not tell the operator the opposite: none of the 8 is under D.
    expect(dry.output).not.toContain("every value is under");
    expect(dry.code).toBe(1);
    expectNoSecretIn(dry.output);
  });

  it("reports values under a key id the keyring gives to another key, in a dry run and a run, and exits 1", async () => {
    expect(await storedKeyIds()).toEqual({ signing: all(c, 5), ingress: [c], headers: [c], answers: [c] });
    // The service ran a while on that keyring first: a secret it wrote since opens, the ones written before do not.
    const reused = parseKeyring(process.env.HOOKLEDGER_TEST_KEYRING_C_REUSED as string);
    const written = encryptSecret("whsec_V3JpdHRlbkFmdGVyVGhlS2V5V2FzUmVwbGFjZWQ=", reused, `subscription:${before.plain.id}:key_after`);
    await db.owner`insert into hookledger.subscription_secrets (org_id, subscription_id, key_id, ciphertext, created_at)
                   select org_id, subscription_id, 'key_after', ${written}, now() from hookledger.subscriptions where subscription_id = ${before.plain.id}`;
    const stored = await storedKeyIds();
    expect(stored.signing).toEqual(all(c, 6));
    for (const args of [["reencrypt", "--dry-run"], ["reencrypt"]]) {
      const run = await cli(args, "HOOKLEDGER_TEST_KEYRING_C_REUSED");
      // Counted by id alone, every value is under the active key; none opens with it.
      expect(run.output).toContain(`  subscription signing secrets: ${args.length === 1 ? "moved" : "would move"} 0; under ${c} (active) 6`);
      expect(run.output).toContain(
        `values under ${c} (subscription signing secrets, ingress route secrets, subscription custom header values, idempotency answers (keys not expired)) do not open with the keyring's key of that id`,
      );
      expect(run.output).not.toContain("every value is under");
      expect(run.code).toBe(1);
      expectNoSecretIn(run.output);
    }
    expect(await storedKeyIds()).toEqual(stored);
    await db.owner`delete from hookledger.subscription_secrets where key_id = 'key_after'`;
  });

  it("moves the values that open and reports, never moves, one copied from another row and one that is not encrypted at all", async () => {
    const [first, second] = await db.owner<{ subscription_id: string; key_id: string; ciphertext: string }[]>`
      select subscription_id, key_id, ciphertext from hookledger.subscription_secrets order by subscription_id, key_id limit 2`;
    await db.owner`update hookledger.subscription_secrets set ciphertext = ${first!.ciphertext} where subscription_id = ${second!.subscription_id} and key_id = ${second!.key_id}`;
    await db.owner`update hookledger.ingress_route_secrets set ciphertext = 'not-encrypted'`;

    const run = await cli(["reencrypt"], "HOOKLEDGER_TEST_KEYRING_DC");
    expect(run.output).toContain(`  subscription signing secrets: moved 4, 1 did not open; under ${d} (active) 4, ${c} 1`);
    expect(run.output).toContain(`  ingress route secrets: moved 0, 1 did not open; under ${d} (active) 0, ${c} 0, malformed 1`);
    expect(run.output).toContain(`  subscription custom header values: moved 1; under ${d} (active) 1, ${c} 0`);
    expect(run.output).toContain("1 value(s) are not in the encrypted format at all");
    expect(run.output).toContain("1 value(s) did not open with the key they name");
    expect(run.output).toContain(`1 value(s) are still under ${c}`);
    expect(run.code).toBe(1);
    expect(run.output).not.toContain("not-encrypted");
  });
});
