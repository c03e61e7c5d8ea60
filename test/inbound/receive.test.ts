/**
 * The public receive endpoint end to end over HTTP: provider-signed webhooks verified, recorded, queued, pulled,
 * acknowledged and pushed on to a subscription; refusals answered alike, counted, and kept out of the ledger.
 */
import { createHmac } from "node:crypto";
import { sign as signGithub } from "@octokit/webhooks-methods";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { stripeWebhooks } from "./signers.ts";
import { inboundTenant, postWebhook } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let t: Awaited<ReturnType<typeof inboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true });
  receiver = await startReceiver();
  t = await inboundTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db?.drop();
});

const ledgerCount = async () => (await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger`)[0]?.n ?? 0;
const unixNow = () => Math.floor(Date.now() / 1000);

describe("GitHub- and Stripe-style webhooks end to end", () => {
  it("verifies a GitHub webhook, records it, queues it for pulling and pushes it to a subscription", async () => {
    await t.createQueue("github");
    const subscription = await app.call("POST", "/v1/subscriptions", t.token, { app_id: t.appId, url: receiver.url("/github"), event_types: ["github.push"] });
    expect(subscription.status).toBe(201);
    const route = await t.createRoute({
      name: "GitHub org",
      auth: { type: "hmac", preset: "github" },
      queue: "github",
      publish: { app_id: t.appId, event_type: "github.push" },
      secrets: [{ id: "gh-2026", value: "It's a Secret to Everybody" }],
    });
    expect(route.id).toMatch(/^rt_[0-9A-Za-z]{24}$/);
    expect(route).toMatchObject({ path: null, receive_path: `/in/${route.id}`, custom_receive_path: null });
    expect(route.secrets).toEqual([expect.objectContaining({ id: "gh-2026", source: "value" })]);
    expect(route.secrets[0]).not.toHaveProperty("value");

    // Byte-exact: odd spacing and non-ASCII survive untouched.
    const body = '{ "ref":"refs/heads/main",  "pusher": {"name":"zoë"} }\n';
    const signature = await signGithub("It's a Secret to Everybody", body);
    const sent = await postWebhook(app, route.id, body, { "X-Hub-Signature-256": signature, "X-GitHub-Delivery": "72d3162e-1", "X-GitHub-Event": "push" });
    expect(sent.status).toBe(202);
    expect(sent.body.receipt_id).toMatch(/^rcpt_/);

    const [entry] = await db.owner<{ data: Record<string, unknown> }[]>`select data from hookledger.ledger where type = 'ingress.received' and data->>'receipt_id' = ${sent.body.receipt_id}`;
    expect(Buffer.from(entry!.data.body_base64 as string, "base64").toString("utf8")).toBe(body);
    expect(entry!.data.verification).toEqual({ method: "hmac", preset: "github", secret_id: "gh-2026" });
    expect(entry!.data.headers).toMatchObject({ "x-github-event": "push", "x-github-delivery": "72d3162e-1" });
    expect(entry!.data.headers).not.toHaveProperty("x-hub-signature-256");
    expect(JSON.stringify(entry)).not.toContain(signature.slice(7));

    const pulled = await app.call("POST", "/v1/pull/github/dequeue", t.token, { max_messages: 5 });
    expect(pulled.status).toBe(200);
    expect(pulled.body.messages).toHaveLength(1);
    const message = pulled.body.messages[0];
    expect(message).toMatchObject({ delivery: 1, receipt: { id: sent.body.receipt_id, route_id: route.id, content_type: "application/json" } });
    expect(Buffer.from(message.receipt.body_base64, "base64").toString("utf8")).toBe(body);
    const acked = await app.call("POST", "/v1/pull/github/ack", t.token, { lease_ids: [message.lease_id] });
    expect(acked.body).toEqual({ done: [message.lease_id], lost: [] });
    const queue = await app.call("GET", "/v1/pull-queues/github", t.token);
    expect(queue.body.depth).toMatchObject({ ready: 0, leased: 0, dead: 0, oldest_enqueued_at: null });

    const [delivered] = await receiver.waitFor(1, "/github");
    expect(delivered!.body.toString("utf8")).toBe(body);
    const headers = delivered!.headers as Record<string, string>;
    expect(headers["x-hookledger-event-id"]).toBe(sent.body.receipt_id);
    expect(headers["x-hookledger-event-type"]).toBe("github.push");
    expect(() => new Webhook(subscription.body.secret).verify(delivered!.body.toString("utf8"), headers)).not.toThrow();
    const event = await app.call("GET", `/v1/events/${sent.body.receipt_id}`, t.token);
    expect(event.body).toMatchObject({ labels: { ingress_route: route.id }, content_type: "application/json" });
  });

  it("verifies a Stripe webhook signed by Stripe's own library, queues it and pushes it", async () => {
    await t.createQueue("stripe");
    await app.call("POST", "/v1/subscriptions", t.token, { app_id: t.appId, url: receiver.url("/stripe"), event_types: ["stripe.event"] });
    const route = await t.createRoute({
      auth: { type: "hmac", preset: "stripe", tolerance_seconds: 300 },
      queue: "stripe",
      publish: { app_id: t.appId, event_type: "stripe.event" },
      secrets: [{ value: "whsec_stripe_endpoint_secret" }],
    });
    const body = JSON.stringify({ id: "evt_1", object: "event", type: "invoice.paid" });
    const header = stripeWebhooks.generateTestHeaderString({ payload: body, secret: "whsec_stripe_endpoint_secret", timestamp: unixNow() });
    const sent = await postWebhook(app, route.id, body, { "Stripe-Signature": header });
    expect(sent.status).toBe(202);

    const pulled = await app.call("POST", "/v1/pull/stripe/dequeue", t.token, {});
    expect(Buffer.from(pulled.body.messages[0].receipt.body_base64, "base64").toString("utf8")).toBe(body);
    expect(pulled.body.messages[0].receipt.headers).not.toHaveProperty("stripe-signature");
    expect((await app.call("POST", "/v1/pull/stripe/ack", t.token, { lease_ids: [pulled.body.messages[0].lease_id] })).body.done).toHaveLength(1);
    const [delivered] = await receiver.waitFor(1, "/stripe");
    expect(delivered!.body.toString("utf8")).toBe(body);

    const [entry] = await db.owner<{ data: { verification: Record<string, string> } }[]>`select data from hookledger.ledger where type = 'ingress.received' and data->>'receipt_id' = ${sent.body.receipt_id}`;
    expect(entry!.data.verification).toMatchObject({ method: "hmac", preset: "stripe" });
    expect(new Date(entry!.data.verification.signed_at!).getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it("verifies a Svix-sent webhook (svix-id, svix-timestamp, svix-signature) on a standard-webhooks route, keeps its id and time, records a replay once, and refuses a wrong signature", async () => {
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const route = await t.createRoute({ auth: { type: "hmac", preset: "standard-webhooks" }, secrets: [{ id: "clerk", value: secret }] });
    const body = JSON.stringify({ type: "user.created", data: { id: "user_1" } });
    const svix = (id: string, signingSecret = secret) => {
      const timestamp = new Date();
      return { "svix-id": id, "svix-timestamp": String(Math.floor(timestamp.getTime() / 1000)), "svix-signature": new Webhook(signingSecret).sign(id, timestamp, body) };
    };
    const headers = svix("msg_svix_1");
    const sent = await postWebhook(app, route.id, body, headers);
    expect(sent.status).toBe(202);
    const [entry] = await db.owner<{ data: { headers: Record<string, string>; verification: Record<string, string> } }[]>`
      select data from hookledger.ledger where type = 'ingress.received' and data->>'receipt_id' = ${sent.body.receipt_id}`;
    expect(entry!.data.verification).toMatchObject({ method: "hmac", preset: "standard-webhooks", secret_id: "clerk" });
    // Kept like webhook-id and webhook-timestamp; the signature is dropped like webhook-signature.
    expect(entry!.data.headers).toMatchObject({ "svix-id": "msg_svix_1", "svix-timestamp": headers["svix-timestamp"] });
    expect(entry!.data.headers).not.toHaveProperty("svix-signature");

    const before = await ledgerCount();
    expect((await postWebhook(app, route.id, body, headers)).status).toBe(200);
    expect((await postWebhook(app, route.id, body, svix("msg_svix_2", "whsec_dGhpcyBpcyBub3QgdGhlIHJpZ2h0IGtleSE="))).status).toBe(401);
    expect(await ledgerCount()).toBe(before);
    const details = await app.call("GET", `/v1/ingress-routes/${route.id}`, t.token);
    expect(details.body.rejections.by_reason).toMatchObject({ replayed: 1, signature_mismatch: 1 });
  });

  it("keeps no key, signing or private header in the receipt, the ledger or a pulled message", async () => {
    await t.createQueue("keyed");
    const route = await t.createRoute({ auth: { type: "hmac", preset: "github" }, queue: "keyed", secrets: [{ value: "keyed-secret" }] });
    const credentials = { "X-Webhook-Key": "wk-1", "X-Signing-Key": "sk-2", "Private-Key": "pk-3", "X-Key": "k-4", "X-ApiKey": "ak-5", "X-Password": "pw-6" };
    const body = '{"keyed":true}';
    const sent = await postWebhook(app, route.id, body, { "X-Hub-Signature-256": await signGithub("keyed-secret", body), "X-GitHub-Event": "push", "X-Keyboard": "qwerty", ...credentials });
    expect(sent.status).toBe(202);
    const [entry] = await db.owner<{ data: unknown }[]>`select data from hookledger.ledger where type = 'ingress.received' and data->>'receipt_id' = ${sent.body.receipt_id}`;
    const [receipt] = (await app.call("GET", `/v1/ingress-routes/${route.id}/receipts`, t.token)).body.data;
    const [message] = (await app.call("POST", "/v1/pull/keyed/dequeue", t.token, {})).body.messages;
    for (const headers of [(entry!.data as { headers: Record<string, string> }).headers, receipt.headers, message.receipt.headers]) {
      expect(headers).toMatchObject({ "x-github-event": "push", "x-keyboard": "qwerty", "content-type": "application/json" });
      for (const name of Object.keys(credentials)) expect(headers).not.toHaveProperty(name.toLowerCase());
    }
    for (const value of Object.values(credentials)) expect(JSON.stringify([entry, receipt, message])).not.toContain(value);
  });

  it("records a failed publish without losing the receipt when the event type is gone", async () => {
    await app.call("POST", `/v1/applications/${t.appId}/event-types`, t.token, { name: "doomed.type" });
    const route = await t.createRoute({ auth: { type: "hmac", preset: "github" }, publish: { app_id: t.appId, event_type: "doomed.type" }, secrets: [{ value: "k" }] });
    expect((await app.call("DELETE", `/v1/applications/${t.appId}/event-types/doomed.type`, t.token)).status).toBe(204);
    const sent = await postWebhook(app, route.id, "{}", { "X-Hub-Signature-256": await signGithub("k", "{}") });
    expect(sent.status).toBe(202);
    const failed = await eventually(async () => {
      const [row] = await db.owner<{ data: unknown }[]>`select data from hookledger.ledger where type = 'ingress.publish_failed' and data->>'receipt_id' = ${sent.body.receipt_id}`;
      return row;
    });
    expect(failed.data).toEqual({ receipt_id: sent.body.receipt_id, reason: "unknown_event_type" });
    const receipts = await app.call("GET", `/v1/ingress-routes/${route.id}/receipts`, t.token);
    expect(receipts.body.data.map((r: { id: string }) => r.id)).toEqual([sent.body.receipt_id]);
  });
});

describe("refusals", () => {
  it("are counted together, each once, whatever arrives at once", async () => {
    // One upsert per refusal made a flood at one route a write each (sweep 17); they are added up per flush now.
    const route = await t.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ value: "counted-secret" }] });
    const forged = (i: number) => postWebhook(app, route.id, `{"i":${i}}`, { "X-Hub-Signature-256": `sha256=${"ab".repeat(32)}`, "X-GitHub-Delivery": `forged-${i}` });
    const unsigned = (i: number) => postWebhook(app, route.id, `{"i":${i}}`, { "X-GitHub-Delivery": `unsigned-${i}` });
    const answers = await Promise.all([...Array.from({ length: 60 }, (_, i) => forged(i)), ...Array.from({ length: 15 }, (_, i) => unsigned(i))]);
    expect(answers.filter((answer) => answer.status !== 401).map((answer) => [answer.status, answer.body])).toEqual([]);
    const details = await app.call("GET", `/v1/ingress-routes/${route.id}`, t.token);
    expect(details.body.rejections).toMatchObject({ total: 75, by_reason: { signature_mismatch: 60, missing_header: 15 } });
  });
});

describe("group commit", () => {
  it("records webhooks arriving together in shared transactions, each once and byte-exact, a bad one refused alone", async () => {
    await t.createQueue("together");
    const route = await t.createRoute({ auth: { type: "hmac", preset: "github" }, queue: "together", secrets: [{ value: "shared-secret" }] });
    const bodies = Array.from({ length: 40 }, (_, i) => `{"n":${i}, "note":"zoë ${i}"}`);
    const signed = await Promise.all(bodies.map(async (body, i) => ({ body, headers: { "X-Hub-Signature-256": await signGithub("shared-secret", body), "X-GitHub-Delivery": `together-${i}` } })));
    const forged = { body: '{"n":"forged"}', headers: { "X-Hub-Signature-256": await signGithub("wrong-secret", '{"n":"forged"}'), "X-GitHub-Delivery": "together-forged" } };
    const answers = await Promise.all([...signed, forged, signed[7]!].map(({ body, headers }) => postWebhook(app, route.id, body, headers)));

    expect(answers[40]?.status).toBe(401);
    // The 7th was sent twice at once: one copy is recorded, the other answered as a duplicate.
    expect([answers[7]?.status, answers[41]?.status].sort()).toEqual([200, 202]);
    expect(answers.slice(0, 40).filter((answer, i) => i !== 7).every((answer) => answer.status === 202)).toBe(true);
    const receiptIds = [...answers.slice(0, 40), answers[41]].filter((answer) => answer?.status === 202).map((answer) => answer?.body.receipt_id as string);
    expect(new Set(receiptIds).size).toBe(40);

    const rows = await db.owner<{ body: string; xact: string }[]>`
      select convert_from(decode(data->>'body_base64', 'base64'), 'UTF8') as body, xact_id::text as xact
      from hookledger.ledger where type = 'ingress.received' and data->>'receipt_id' = any(${receiptIds})`;
    expect(rows.map((row) => row.body).sort()).toEqual([...bodies].sort());
    expect(new Set(rows.map((row) => row.xact)).size).toBeLessThan(rows.length);
    const [queued] = await db.owner<{ n: number }[]>`
      select count(*)::int as n from hookledger.pull_messages where org_id = ${t.orgId} and queue = 'together'`;
    expect(queued?.n).toBe(40);
  });
});

describe("refusals", () => {
  let route: Awaited<ReturnType<typeof t.createRoute>>;
  beforeAll(async () => {
    route = await t.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ value: "right" }] });
  });

  it("answers a bad or missing signature with the same bare 401, counts it, and appends nothing", async () => {
    const before = await ledgerCount();
    const wrong = await postWebhook(app, route.id, "{}", { "X-Hub-Signature-256": await signGithub("wrong", "{}") });
    const missing = await postWebhook(app, route.id, "{}");
    const malformed = await postWebhook(app, route.id, "{}", { "X-Hub-Signature-256": "sha256=zz" });
    for (const response of [wrong, missing, malformed]) {
      expect(response.status).toBe(401);
      const { request_id: _id, ...rest } = response.body;
      expect(rest).toEqual({
        type: "urn:hookledger:problem:unauthorized",
        title: "Authentication is required",
        status: 401,
        detail: "the request could not be authenticated",
        instance: `/in/${route.id}`,
      });
    }
    expect(await ledgerCount()).toBe(before);
    const details = await app.call("GET", `/v1/ingress-routes/${route.id}`, t.token);
    expect(details.body.rejections).toMatchObject({ total: 3, by_reason: { signature_mismatch: 1, missing_header: 1, malformed: 1 } });
    expect(details.body.secrets[0]).not.toHaveProperty("value");
  });

  it("answers a repeated delivery 200 duplicate (the sender's retry) and records the original once", async () => {
    const body = JSON.stringify({ n: 1 });
    const headers = { "X-Hub-Signature-256": await signGithub("right", body), "X-GitHub-Delivery": "replayed-delivery" };
    const batches = async () => Object.fromEntries((await app.ctx.metrics.ingressBatches.get()).values.map((value) => [String(value.labels.path), value.value]));
    const before = await batches();
    expect((await postWebhook(app, route.id, body, headers)).status).toBe(202);
    // A first sighting is recorded in one statement; the replay is declined there and sorted by a transaction.
    const between = await batches();
    expect((between.one_statement ?? 0) - (before.one_statement ?? 0)).toBe(1);
    const replay = await postWebhook(app, route.id, body, headers);
    expect((await batches()).transaction ?? 0).toBe((between.transaction ?? 0) + 1);
    // Standard Webhooks and Svix ask receivers to answer a message they have with 2xx: a sender unsure of the first
    // answer retries with the same id and stops at this one (sweep 17: it got 401 and kept retrying).
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual({ duplicate: true });
    const receipts = await app.call("GET", `/v1/ingress-routes/${route.id}/receipts`, t.token);
    expect(receipts.body.data).toHaveLength(1);
    expect((await app.call("GET", `/v1/ingress-routes/${route.id}`, t.token)).body.rejections.by_reason.replayed).toBe(1);
  });

  it("accepts exactly one of several identical requests arriving together", async () => {
    const body = JSON.stringify({ n: "simultaneous" });
    const headers = { "X-Hub-Signature-256": await signGithub("right", body), "X-GitHub-Delivery": "simultaneous-delivery" };
    const statuses = (await Promise.all([1, 2, 3, 4, 5].map(() => postWebhook(app, route.id, body, headers)))).map((r) => r.status);
    expect(statuses.sort()).toEqual([200, 200, 200, 200, 202]);
  });

  it("forgets a nonce once its tolerance window has passed, purging expired ones as it goes", async () => {
    const shortLived = await t.createRoute({ auth: { type: "hmac", preset: "github", tolerance_seconds: 1 }, secrets: [{ value: "k" }] });
    const send = async (delivery: string) => postWebhook(app, shortLived.id, "{}", { "X-Hub-Signature-256": await signGithub("k", "{}"), "X-GitHub-Delivery": delivery });
    expect((await send("d-1")).status).toBe(202);
    expect((await send("d-1")).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await send("d-2")).status).toBe(202);
    const nonces = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ingress_nonces where route_id = ${shortLived.id}`;
    expect(nonces[0]?.n).toBe(1);
    // GitHub signs no timestamp: after the window the same delivery id is a new request again.
    expect((await send("d-1")).status).toBe(202);
  });

  it("records a replayed Stripe request whose duplicate signature was dropped once, answering the repeat as a duplicate", async () => {
    const stripe = await t.createRoute({ auth: { type: "hmac", preset: "stripe" }, secrets: [{ value: "whsec_a" }, { value: "whsec_b" }] });
    const body = '{"id":"evt_replay"}';
    const timestamp = unixNow();
    const v1 = (secret: string) => stripeWebhooks.generateTestHeaderString({ payload: body, secret, timestamp }).split(",")[1];
    expect((await postWebhook(app, stripe.id, body, { "Stripe-Signature": `t=${timestamp},${v1("whsec_a")},${v1("whsec_b")}` })).status).toBe(202);
    expect((await postWebhook(app, stripe.id, body, { "Stripe-Signature": `t=${timestamp},${v1("whsec_b")}` })).status).toBe(200);
    expect((await app.call("GET", `/v1/ingress-routes/${stripe.id}/receipts`, t.token)).body.data).toHaveLength(1);
  });

  it("records a replayed generic timestamp.body request whose unsigned nonce header was changed once", async () => {
    const generic = await t.createRoute({
      auth: { type: "hmac", preset: "generic", generic: { header: "X-Sig", algorithm: "sha256", encoding: "hex", prefix: "sha256=", signedPayload: "timestamp.body", timestampHeader: "X-Ts", nonceHeader: "X-Nonce" } },
      secrets: [{ value: "generic-secret" }],
    });
    const body = '{"replay":"me"}';
    const timestamp = String(unixNow());
    const signature = `sha256=${createHmac("sha256", "generic-secret").update(`${timestamp}.${body}`).digest("hex")}`;
    const send = (nonce: string) => postWebhook(app, generic.id, body, { "X-Sig": signature, "X-Ts": timestamp, "X-Nonce": nonce });
    const statuses = [];
    for (const nonce of ["n1", "n1", "n2", "n3"]) statuses.push((await send(nonce)).status);
    expect(statuses).toEqual([202, 200, 200, 200]);
    expect((await app.call("GET", `/v1/ingress-routes/${generic.id}/receipts`, t.token)).body.data).toHaveLength(1);
    expect((await app.call("GET", `/v1/ingress-routes/${generic.id}/receipts`, t.token)).body.data).toHaveLength(1);
  });

  it("refuses a stale Stripe timestamp", async () => {
    const stripe = await t.createRoute({ auth: { type: "hmac", preset: "stripe", tolerance_seconds: 60 }, secrets: [{ value: "whsec_s", valid_from: "2020-01-01T00:00:00Z" }] });
    const header = stripeWebhooks.generateTestHeaderString({ payload: "{}", secret: "whsec_s", timestamp: unixNow() - 61 });
    expect((await postWebhook(app, stripe.id, "{}", { "Stripe-Signature": header })).status).toBe(401);
    expect((await app.call("GET", `/v1/ingress-routes/${stripe.id}`, t.token)).body.rejections.by_reason).toEqual({ timestamp_out_of_tolerance: 1 });
  });

  it("answers 404 for unknown, malformed, disabled and deleted routes alike", async () => {
    const doomed = await t.createRoute({ auth: { type: "hmac", preset: "github" }, secrets: [{ value: "x" }] });
    const disabled = await t.createRoute({ auth: { type: "hmac", preset: "github" }, enabled: false, secrets: [{ value: "x" }] });
    await app.call("DELETE", `/v1/ingress-routes/${doomed.id}`, t.token);
    for (const id of ["rt_000000000000000000000000", "nope", doomed.id, disabled.id]) {
      const response = await postWebhook(app, id, "{}", { "X-Hub-Signature-256": await signGithub("x", "{}") });
      expect(response.status).toBe(404);
      expect(response.body.detail).toBe("no such ingress route");
    }
  });
});

describe("body size limit", () => {
  it("refuses a body over the route's limit with 413, declared or streamed, and accepts one at it", async () => {
    const route = await t.createRoute({ auth: { type: "hmac", preset: "github" }, max_body_bytes: 1000, secrets: [{ value: "k" }] });
    const exact = "x".repeat(1000);
    expect((await postWebhook(app, route.id, exact, { "X-Hub-Signature-256": await signGithub("k", exact) })).status).toBe(202);
    const over = "x".repeat(1001);
    const declared = await postWebhook(app, route.id, over, { "X-Hub-Signature-256": await signGithub("k", over) });
    expect(declared.status).toBe(413);
    expect(declared.body).toMatchObject({ type: "urn:hookledger:problem:payload-too-large", max_bytes: 1000 });

    // Chunked, so no Content-Length: the limit holds while reading.
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 5; i++) controller.enqueue(new TextEncoder().encode("y".repeat(300)));
        controller.close();
      },
    });
    const chunked = await app.fetch(`/in/${route.id}`, { method: "POST", body: stream, headers: { "content-type": "text/plain" }, duplex: "half" } as RequestInit);
    expect(chunked.status).toBe(413);
    expect((await app.call("GET", `/v1/ingress-routes/${route.id}`, t.token)).body.rejections.by_reason).toEqual({ too_large: 2 });
  });

  it("refuses a route limit above HOOKLEDGER_INGRESS_MAX_BODY_BYTES", async () => {
    const response = await app.call("POST", "/v1/ingress-routes", t.token, { name: "big", auth: { type: "basic", username: "u" }, max_body_bytes: 64 * 1024 * 1024 });
    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ field: "max_body_bytes", message: expect.stringMatching(/HOOKLEDGER_INGRESS_MAX_BODY_BYTES/) }]);
  });
});
