import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, eventually, startTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { outboundTenant } from "../outbound/setup.ts";
import { inboundTenant, postWebhook } from "../inbound/setup.ts";
import { expireIdempotencyKeys } from "../../src/tenancy/expireIdempotencyKeysTask.ts";
import { requestDigest } from "../../src/tenancy/idempotentRequests.ts";
import { MISSING_KEY_ID, onMissingKey } from "../support/missingKey.ts";

let db: TestDatabase;
let app: TestApp;
let tenant: Awaited<ReturnType<typeof outboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: false });
  tenant = await outboundTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await db.drop();
});

let keys = 0;
const newKey = () => `key-${Date.now()}-${++keys}`;
const withKey = (key: string) => ({ "Idempotency-Key": key });

async function applicationsNamed(name: string): Promise<number> {
  const [row] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.applications where org_id = ${tenant.orgId} and name = ${name}`;
  return row?.n ?? 0;
}

describe("Idempotency-Key on POST", () => {
  it("answers a repeat with the first answer, marked replayed, and acts once", async () => {
    const key = newKey();
    const first = await app.call("POST", "/v1/applications", tenant.token, { name: "once" }, withKey(key));
    const again = await app.call("POST", "/v1/applications", tenant.token, { name: "once" }, withKey(key));
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("content-type")).toBe(first.headers.get("content-type"));
    expect(await applicationsNamed("once")).toBe(1);
    const [entries] = await db.owner<{ n: number }[]>`
      select count(*)::int as n from hookledger.ledger where org_id = ${tenant.orgId} and type = 'application.created' and data->>'name' = 'once'`;
    expect(entries?.n).toBe(1);
  });

  it("refuses the same key for a different body or path with 409 idempotency-conflict, acting on none", async () => {
    const key = newKey();
    expect((await app.call("POST", "/v1/applications", tenant.token, { name: "first body" }, withKey(key))).status).toBe(201);
    const otherBody = await app.call("POST", "/v1/applications", tenant.token, { name: "second body" }, withKey(key));
    expect(otherBody.status).toBe(409);
    expect(otherBody.body.type).toBe("urn:hookledger:problem:idempotency-conflict");
    const otherPath = await app.call("POST", "/v1/tokens", tenant.token, { name: "first body" }, withKey(key));
    expect(otherPath.body.type).toBe("urn:hookledger:problem:idempotency-conflict");
    // A query on a route that takes none is refused before the key is looked at.
    const otherQuery = await app.call("POST", "/v1/subscriptions?x=1", tenant.token, { name: "first body" }, withKey(key));
    expect(otherQuery.status).toBe(400);
    expect(otherQuery.body.errors).toEqual([expect.objectContaining({ field: "query.x" })]);
    expect(await applicationsNamed("second body")).toBe(0);
  });

  it("runs one of many concurrent requests with one key; the others wait their turn (409 with Retry-After) or get its answer", async () => {
    const key = newKey();
    const answers = await Promise.all(Array.from({ length: 8 }, () => app.call("POST", "/v1/applications", tenant.token, { name: "raced" }, withKey(key))));
    expect(await applicationsNamed("raced")).toBe(1);
    const created = answers.filter((answer) => answer.status === 201);
    expect(new Set(created.map((answer) => answer.body.id)).size).toBe(1);
    for (const answer of answers.filter((answer) => answer.status !== 201)) {
      expect(answer.status).toBe(409);
      expect(answer.body.type).toBe("urn:hookledger:problem:idempotency-in-progress");
      expect(Number(answer.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }
    const later = await app.call("POST", "/v1/applications", tenant.token, { name: "raced" }, withKey(key));
    expect(later.status).toBe(201);
    expect(later.body.id).toBe(created[0]?.body.id);
  });

  it("forgets a key whose request failed, so the corrected request runs under it", async () => {
    const key = newKey();
    const refused = await app.call("POST", "/v1/applications", tenant.token, { name: "" }, withKey(key));
    expect(refused.status).toBe(400);
    const repeated = await app.call("POST", "/v1/applications", tenant.token, { name: "" }, withKey(key));
    expect(repeated.status).toBe(400);
    expect(repeated.headers.get("idempotent-replayed")).toBeNull();
    const corrected = await app.call("POST", "/v1/applications", tenant.token, { name: "corrected" }, withKey(key));
    expect(corrected.status).toBe(201);
    expect(await applicationsNamed("corrected")).toBe(1);
  });

  it("refuses a repeat whose kept answer the keyring cannot open with 409 idempotency-conflict, never acting twice", async () => {
    const key = newKey();
    const first = await app.call("POST", "/v1/applications", tenant.token, { name: "sealed-away" }, withKey(key));
    expect(first.status).toBe(201);
    // The answer's key left the keyring (removed before reencrypt moved the answer off it).
    await db.owner`update hookledger.idempotency_keys set answer = ${onMissingKey(db.owner, "answer")} where org_id = ${tenant.orgId} and key = ${key}`;
    const repeated = await app.call("POST", "/v1/applications", tenant.token, { name: "sealed-away" }, withKey(key));
    expect(repeated.status).toBe(409);
    expect(repeated.body.type).toBe("urn:hookledger:problem:idempotency-conflict");
    expect(repeated.body.detail).toBe("the answer kept under this idempotency key can no longer be read (its encryption key left the keyring); use a new key");
    expect(JSON.stringify(repeated.body)).not.toContain(MISSING_KEY_ID);
    expect(JSON.stringify(repeated.body)).not.toContain(first.body.id);
    expect(await applicationsNamed("sealed-away")).toBe(1);
  });

  it("keeps keys per token: another token (or organization) with the same key and request acts for itself", async () => {
    const key = newKey();
    const other = await app.call("POST", "/v1/tokens", tenant.token, { label: "second", scopes: ["admin"] });
    const otherOrg = await createTenant(app, "Other");
    const mine = await app.call("POST", "/v1/applications", tenant.token, { name: "per token" }, withKey(key));
    const theirs = await app.call("POST", "/v1/applications", other.body.token, { name: "per token" }, withKey(key));
    const foreign = await app.call("POST", "/v1/applications", otherOrg.token, { name: "per token" }, withKey(key));
    expect([mine.status, theirs.status, foreign.status]).toEqual([201, 201, 201]);
    expect(theirs.headers.get("idempotent-replayed")).toBeNull();
    expect(foreign.headers.get("idempotent-replayed")).toBeNull();
    expect(new Set([mine.body.id, theirs.body.id, foreign.body.id]).size).toBe(3);
  });

  it("keeps the request only as a keyed digest, never in the clear", async () => {
    const key = newKey();
    const body = { name: "digest only" };
    expect((await app.call("POST", "/v1/applications", tenant.token, body, withKey(key))).status).toBe(201);
    // The request (a name here; a route's password elsewhere) is kept only as a digest keyed from the keyring.
    const [row] = await db.owner<{ request_hash: Uint8Array }[]>`select request_hash from hookledger.idempotency_keys where org_id = ${tenant.orgId} and key = ${key}`;
    const plain = createHash("sha256").update("POST /v1/applications\n").update(JSON.stringify(body)).digest();
    expect(Buffer.from(row?.request_hash ?? []).equals(plain)).toBe(false);
    expect(Buffer.from(row?.request_hash ?? []).equals(Buffer.from(requestDigest(app.ctx.keyring, "POST", "/v1/applications", Buffer.from(JSON.stringify(body)))))).toBe(true);
  });

  describe("an answer that carried a secret shown once", () => {
    /** Sends a request twice with one key: the first answer, and the repeat's. */
    async function twice(path: string, body: Record<string, unknown> | undefined, token = tenant.token) {
      const key = newKey();
      const first = await app.call("POST", path, token, body, withKey(key));
      const again = await app.call("POST", path, token, body, withKey(key));
      return { key, first, again };
    }

    /** The repeat is a 409 saying the request was done, and nothing of the first answer is kept. */
    async function expectToldDone(key: string, again: Awaited<ReturnType<TestApp["call"]>>, secret: string): Promise<void> {
      expect(again.status).toBe(409);
      expect(again.body.type).toBe("urn:hookledger:problem:idempotency-conflict");
      expect(again.body.detail).toMatch(/was done, but its answer carried a secret that is shown once/);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(JSON.stringify(again.body)).not.toContain(secret);
      // Told so again on every later repeat: the key holds the refusal, not the answer.
      const [row] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.idempotency_keys where key = ${key} and answer is not null`;
      expect(row?.n).toBe(1);
    }

    it("never shows a new token again, and creates one token", async () => {
      const { key, first, again } = await twice("/v1/tokens", { label: "shown once", scopes: ["events:write"] });
      expect(first.status).toBe(201);
      await expectToldDone(key, again, first.body.token);
      const [row] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.api_tokens where org_id = ${tenant.orgId} and label = 'shown once'`;
      expect(row?.n).toBe(1);
      // Still refused after the token is revoked: the repeat never brings the revoked token back either.
      expect((await app.call("DELETE", `/v1/tokens/${first.body.id}`, tenant.token)).status).toBe(200);
      await expectToldDone(key, await app.call("POST", "/v1/tokens", tenant.token, { label: "shown once", scopes: ["events:write"] }, withKey(key)), first.body.token);
    });

    it("never shows an organization's token minted by the instance admin again", async () => {
      const { key, first, again } = await twice(`/v1/organizations/${tenant.orgId}/tokens`, { label: "minted once", scopes: ["admin"] }, TEST_ADMIN_TOKEN);
      expect(first.status).toBe(201);
      await expectToldDone(key, again, first.body.token);
    });

    it("never shows a subscription's signing secret or header values again, generated or given", async () => {
      const generated = await twice("/v1/subscriptions", { app_id: tenant.appId, url: "http://127.0.0.1:18460/once", headers: { authorization: "Bearer PARTNER-ONCE" } });
      expect(generated.first.status).toBe(201);
      await expectToldDone(generated.key, generated.again, generated.first.body.secret);
      expect(JSON.stringify(generated.again.body)).not.toContain("PARTNER-ONCE");
      const given = await twice("/v1/subscriptions", { app_id: tenant.appId, url: "http://127.0.0.1:18460/given", secret: "whsec_" + randomBytes(32).toString("base64") });
      expect(given.first.status).toBe(201);
      await expectToldDone(given.key, given.again, given.first.body.secret);
      const [row] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.subscriptions where org_id = ${tenant.orgId} and url like 'http://127.0.0.1:18460/%'`;
      expect(row?.n).toBe(2);
    });

    it("never shows a rotated signing secret again, and rotates once", async () => {
      const subscription = await tenant.subscribe({ url: "http://127.0.0.1:18460/rotated" });
      const { key, first, again } = await twice(`/v1/subscriptions/${subscription.id}/secret/rotate`, { overlap_seconds: 0 });
      expect(first.status).toBe(200);
      await expectToldDone(key, again, first.body.secret);
      const [row] = await db.owner<{ n: number }[]>`
        select count(*)::int as n from hookledger.ledger where org_id = ${tenant.orgId} and type = 'subscription.secret_rotated' and data->>'subscription_id' = ${subscription.id}`;
      expect(row?.n).toBe(1);
    });

    it("never shows a generated ingress secret again; a route whose secrets were given is replayed as before", async () => {
      const generated = await twice("/v1/ingress-routes", { name: "generated once", auth: { type: "hmac", preset: "standard-webhooks" }, secrets: [{}] });
      expect(generated.first.status).toBe(201);
      const value = generated.first.body.secrets[0]?.value as string;
      expect(value).toEqual(expect.any(String));
      await expectToldDone(generated.key, generated.again, value);
      const added = await twice(`/v1/ingress-routes/${generated.first.body.id}/secrets`, { id: "second" });
      expect(added.first.status).toBe(201);
      await expectToldDone(added.key, added.again, added.first.body.value);
      const given = await twice("/v1/ingress-routes", { name: "given", auth: { type: "hmac", preset: "github" }, secrets: [{ value: "a-given-secret-of-some-length" }] });
      expect(given.first.status).toBe(201);
      expect(given.again.status).toBe(201);
      expect(given.again.body).toEqual(given.first.body);
      const [row] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ingress_routes where org_id = ${tenant.orgId} and name in ('generated once', 'given')`;
      expect(row?.n).toBe(2);
    });

    it("never shows a portal link again", async () => {
      const { key, first, again } = await twice(`/v1/applications/${tenant.appId}/portal-links`, undefined);
      expect(first.status).toBe(201);
      await expectToldDone(key, again, new URL(first.body.url).searchParams.get("link") as string);
    });
  });

  it("makes an event without event_id idempotent too", async () => {
    const key = newKey();
    const first = await app.call("POST", "/v1/events", tenant.token, { app_id: tenant.appId, event_type: "invoice.paid", payload: { marker: key } }, withKey(key));
    const again = await app.call("POST", "/v1/events", tenant.token, { app_id: tenant.appId, event_type: "invoice.paid", payload: { marker: key } }, withKey(key));
    expect(first.status).toBe(202);
    expect(again.body.id).toBe(first.body.id);
    const [row] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.events where org_id = ${tenant.orgId} and payload::text like ${"%" + key + "%"}`;
    expect(row?.n).toBe(1);
  });

  it("works for the instance admin too: one organization for two requests", async () => {
    const key = newKey();
    const first = await app.call("POST", "/v1/organizations", TEST_ADMIN_TOKEN, { name: "Once Inc" }, withKey(key));
    const again = await app.call("POST", "/v1/organizations", TEST_ADMIN_TOKEN, { name: "Once Inc" }, withKey(key));
    expect(first.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    const [row] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.organizations where name = 'Once Inc'`;
    expect(row?.n).toBe(1);
  });

  it("ignores the header on other methods", async () => {
    const key = newKey();
    const listed = await app.call("GET", "/v1/applications", tenant.token, undefined, withKey(key));
    expect(listed.status).toBe(200);
    const [row] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.idempotency_keys where key = ${key}`;
    expect(row?.n).toBe(0);
  });

  it("refuses a malformed key with 400 naming the header, acting on nothing", async () => {
    const bad = ["", "has space", "x".repeat(256), "caf\u00e9", "tab\there"];
    for (const key of bad) {
      const response = await app.fetch("/v1/applications", {
        method: "POST",
        headers: { authorization: `Bearer ${tenant.token}`, "content-type": "application/json", "Idempotency-Key": key },
        body: JSON.stringify({ name: "malformed key" }),
      }).catch(() => undefined);
      // A header value fetch itself will not send is no request at all.
      if (!response) continue;
      const body = await response.json();
      expect(response.status).toBe(400);
      expect(body.errors).toEqual([{ field: "header.Idempotency-Key", message: expect.any(String) }]);
    }
    expect(await applicationsNamed("malformed key")).toBe(0);
  });

  it("lets a repeat take over a key whose request's process died (its claim past its lock), and never one for another request", async () => {
    const key = newKey();
    const past = new Date(Date.now() - 1000);
    const hash = async (name: string) => requestDigest(app.ctx.keyring, "POST", "/v1/applications", Buffer.from(JSON.stringify({ name })));
    await db.owner`
      insert into hookledger.idempotency_keys (org_id, token_id, key, request_hash, claim_id, locked_until, created_at, expires_at)
      values (${tenant.orgId}, ${tenant.tokenId}, ${key}, ${await hash("taken over")}, ${crypto.randomUUID()}, ${past}, ${past}, ${new Date(Date.now() + 3_600_000)})`;
    const other = await app.call("POST", "/v1/applications", tenant.token, { name: "not the same" }, withKey(key));
    expect(other.body.type).toBe("urn:hookledger:problem:idempotency-conflict");
    const repeat = await app.call("POST", "/v1/applications", tenant.token, { name: "taken over" }, withKey(key));
    expect(repeat.status).toBe(201);
    expect(await applicationsNamed("taken over")).toBe(1);
  });

  it("never acts twice for a request that timed out on our side and then finished: its repeats are told so", async () => {
    const quick = await startTestApp(db, { worker: false, env: { HOOKLEDGER_REQUEST_TIMEOUT_MS: "800" } });
    try {
      const key = newKey();
      // Holding the organization's row makes creating an application wait (it counts them under that lock).
      let release = () => {};
      const held = new Promise<void>((resolve) => (release = resolve));
      const locking = db.owner.begin(async (tx) => {
        await tx`select 1 from hookledger.organizations where org_id = ${tenant.orgId} for no key update`;
        await held;
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const first = await quick.call("POST", "/v1/applications", tenant.token, { name: "late" }, withKey(key));
      expect(first.status).toBe(503);
      expect(first.body.type).toBe("urn:hookledger:problem:timeout");
      // Past the claim's lock (twice the 800 ms timeout): renewed while the request runs, it is not taken over.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const meanwhile = await quick.call("POST", "/v1/applications", tenant.token, { name: "late" }, withKey(key));
      expect(meanwhile.body.type).toBe("urn:hookledger:problem:idempotency-in-progress");
      release();
      await locking;
      const repeat = await eventually(async () => {
        const answer = await quick.call("POST", "/v1/applications", tenant.token, { name: "late" }, withKey(key));
        return answer.body.type === "urn:hookledger:problem:idempotency-in-progress" ? undefined : answer;
      });
      expect(repeat.status).toBe(409);
      expect(repeat.body.type).toBe("urn:hookledger:problem:idempotency-conflict");
      expect(repeat.body.detail).toMatch(/finished after it had timed out/);
      expect(await applicationsNamed("late")).toBe(1);
    } finally {
      await quick.stop();
    }
  });

  it("forgets keys after 24 hours: an expired key runs its request again, and the sweep deletes expired rows only", async () => {
    const key = newKey();
    const first = await app.call("POST", "/v1/applications", tenant.token, { name: "expiring" }, withKey(key));
    const kept = newKey();
    await app.call("POST", "/v1/applications", tenant.token, { name: "kept" }, withKey(kept));
    await db.owner`update hookledger.idempotency_keys set expires_at = now() - interval '1 second' where key = ${key}`;
    const second = await app.call("POST", "/v1/applications", tenant.token, { name: "expiring" }, withKey(key));
    expect(second.status).toBe(201);
    expect(second.body.id).not.toBe(first.body.id);
    await db.owner`update hookledger.idempotency_keys set expires_at = now() - interval '1 second' where key = ${key}`;
    expect(await expireIdempotencyKeys(app.ctx)).toBeGreaterThanOrEqual(1);
    const left = await db.owner<{ key: string }[]>`select key from hookledger.idempotency_keys where key in (${key}, ${kept})`;
    expect(left.map((row) => row.key)).toEqual([kept]);
  });
});

describe("Idempotency-Key on a pull queue", () => {
  const authorization = { Authorization: `Basic ${Buffer.from("sender:s3cret-password-16").toString("base64")}` };

  it("never leases twice for one key: a dequeue whose answer is too large to keep is refused on repeat, its leases untouched", async () => {
    const t = await inboundTenant(app, "Pull Large");
    await t.createQueue("large");
    const route = await t.createRoute({ auth: { type: "basic", username: "sender" }, secrets: [{ value: "s3cret-password-16" }], queue: "large" });
    // 100 bodies of 48 KB: the answer carries them base64-encoded, ~6.5 MB, past the 4 MB kept.
    for (let n = 0; n < 100; n++) expect((await postWebhook(app, route.id, Buffer.alloc(48 * 1024, 97 + (n % 26)), { ...authorization, "content-type": "application/octet-stream" })).status).toBe(202);
    const key = newKey();
    const first = await app.call("POST", "/v1/pull/large/dequeue", t.token, { max_messages: 100, lease_seconds: 300 }, withKey(key));
    expect(first.status).toBe(200);
    expect(first.body.messages).toHaveLength(100);
    const repeat = await app.call("POST", "/v1/pull/large/dequeue", t.token, { max_messages: 100, lease_seconds: 300 }, withKey(key));
    expect(repeat.status).toBe(409);
    expect(repeat.body.detail).toMatch(/too large to keep/);
    // Nothing was leased a second time: every message is still the first answer's.
    const [leases] = await db.owner<{ n: number }[]>`select count(distinct lease_id)::int as n from hookledger.pull_messages where org_id = ${t.orgId} and queue = 'large' and lease_id is not null`;
    expect(leases?.n).toBe(100);
  });

  it("keeps no empty answer for a long poll its client left: the repeat waits for messages and gets them", async () => {
    const t = await inboundTenant(app, "Pull Poll");
    await t.createQueue("polled");
    const route = await t.createRoute({ auth: { type: "basic", username: "sender" }, secrets: [{ value: "s3cret-password-16" }], queue: "polled" });
    const key = newKey();
    const leaving = new AbortController();
    const abandoned = app
      .fetch("/v1/pull/polled/dequeue", {
        method: "POST",
        headers: { authorization: `Bearer ${t.token}`, "content-type": "application/json", "Idempotency-Key": key },
        body: JSON.stringify({ wait_seconds: 5 }),
        signal: leaving.signal,
      })
      .catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 300));
    leaving.abort();
    await abandoned;
    // The abandoned poll settles its key (released) once it notices; then a message arrives.
    await eventually(async () => {
      const [row] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.idempotency_keys where key = ${key}`;
      return row?.n === 0 ? true : undefined;
    }, 10_000, "the abandoned poll's key to be released");
    expect((await postWebhook(app, route.id, '{"ready":true}', authorization)).status).toBe(202);
    const repeat = await app.call("POST", "/v1/pull/polled/dequeue", t.token, { wait_seconds: 5 }, withKey(key));
    expect(repeat.status).toBe(200);
    expect(repeat.body.messages).toHaveLength(1);
  });
});
