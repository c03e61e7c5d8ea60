/**
 * Inside one organization: what an application token may learn about its sibling applications (nothing), and
 * what an audit:read token may learn about secrets and bodies (nothing either). Two applications, A1 and A2, each
 * with its own application token; the organization token configures A1 with a credential header for its receiver,
 * A2's token publishes an event with a confidential payload to a subscription whose URL names it.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are asserted field by field */

let db: TestDatabase;
let app: TestApp;
let org: { orgId: string; token: string; tokenId: string };
const a1 = { appId: "", token: "", subscriptionId: "", eventId: "evt_a1_confined" };
const a2 = { appId: "", token: "", subscriptionId: "", eventId: "evt_a2_confined" };
let consumerToken: string;

const CREDENTIAL = "Bearer a1-receiver-credential-5c1e0f";
const PAYLOAD_SECRET = "a2-cardholder-4111111111111111";
const A2_URL = "http://127.0.0.1:9/a2-private-endpoint";
const A2_TOKEN_LABEL = "a2 deploy bot 7d2e";

async function ok(response: Promise<{ status: number; body: any }>, status: number) {
  const result = await response;
  if (result.status !== status) throw new Error(`expected ${status}, got ${result.status}: ${JSON.stringify(result.body)}`);
  return result.body;
}

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  org = await createTenant(app, "Confined");
  for (const [which, label] of [[a1, "a1 deploy bot"], [a2, A2_TOKEN_LABEL]] as const) {
    which.appId = (await ok(app.call("POST", "/v1/applications", org.token, { name: label.slice(0, 2) }), 201)).id;
    await ok(app.call("POST", `/v1/applications/${which.appId}/event-types`, org.token, { name: "invoice.paid" }), 201);
    which.token = (await ok(app.call("POST", "/v1/tokens", org.token, { label, scopes: ["admin"], app_id: which.appId }), 201)).token;
  }
  consumerToken = (await ok(app.call("POST", "/v1/tokens", org.token, { label: "consumer", scopes: ["pull:consume"] }), 201)).token;

  a1.subscriptionId = (await ok(app.call("POST", "/v1/subscriptions", org.token, {
    app_id: a1.appId, url: "http://127.0.0.1:9/a1", event_types: ["*"], headers: { Authorization: CREDENTIAL },
  }), 201)).id;
  // No app_id in this entry's data: it belongs to A1 through its stream (subscription.created names A1).
  await ok(app.call("PATCH", `/v1/subscriptions/${a1.subscriptionId}`, org.token, { description: "billing endpoint" }), 200);
  await ok(app.call("POST", "/v1/events", a1.token, { app_id: a1.appId, event_type: "invoice.paid", event_id: a1.eventId, payload: { n: 1 } }), 202);
  // A delivery's stream begins with the first entry about it alone (the event's entry names it, sql/070): these
  // entries, by the organization token, belong to A1 through the app_id they carry. (No worker runs here: the
  // delivery stays pending until disabling its subscription cancels it, and a pending delivery's retry records
  // nothing — its attempt is already queued.)
  const [delivery] = (await ok(app.call("GET", `/v1/events/${a1.eventId}`, org.token), 200)).deliveries;
  await ok(app.call("POST", `/v1/subscriptions/${a1.subscriptionId}/disable`, org.token), 200);
  await ok(app.call("POST", `/v1/subscriptions/${a1.subscriptionId}/enable`, org.token), 200);
  await ok(app.call("POST", `/v1/deliveries/${delivery.id}/retry`, org.token), 202);

  a2.subscriptionId = (await ok(app.call("POST", "/v1/subscriptions", a2.token, { app_id: a2.appId, url: A2_URL, event_types: ["*"] }), 201)).id;
  await ok(app.call("POST", "/v1/events", a2.token, { app_id: a2.appId, event_type: "invoice.paid", event_id: a2.eventId, payload: { card: PAYLOAD_SECRET } }), 202);
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

const auditLog = async (token: string, query = "") => {
  const entries: any[] = [];
  for (let after: string | null = null; ; ) {
    const page = await ok(app.call("GET", `/v1/audit-log?limit=2${query}${after ? `&after=${after}` : ""}`, token), 200);
    entries.push(...page.data);
    after = page.next_cursor;
    if (!after) return entries;
  }
};

describe("GET /v1/audit-log", () => {
  it("shows the organization token every mutation, without header values or message bodies", async () => {
    const entries = await auditLog(org.token);
    const text = JSON.stringify(entries);
    expect(text).not.toContain(CREDENTIAL.slice("Bearer ".length));
    expect(text).not.toContain(PAYLOAD_SECRET);
    const created = entries.find((e) => e.type === "subscription.created" && e.data.subscription_id === a1.subscriptionId);
    expect(created.data).toMatchObject({ app_id: a1.appId, headers: ["authorization"] });
    const received = entries.find((e) => e.type === "event.received" && e.data.event_id === a2.eventId);
    expect(received.data).not.toHaveProperty("payload");
    expect(received.data).toMatchObject({ app_id: a2.appId, payload_sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(entries.map((e) => e.type)).toEqual(expect.arrayContaining(["organization.created", "token.created", "application.created", "delivery.retry_requested"]));
    // Not vacuous: the ledger itself holds the payload, and the header sealed (sql/087), never in clear.
    const raw = await db.owner<{ data: Record<string, unknown> }[]>`select data from hookledger.ledger where org_id = ${org.orgId}`;
    expect(JSON.stringify(raw)).toContain(PAYLOAD_SECRET);
    expect(JSON.stringify(raw)).not.toContain(CREDENTIAL.slice("Bearer ".length));
    expect(raw.find((row) => row.data.subscription_id === a1.subscriptionId && row.data.sealed_headers)?.data.sealed_headers).toHaveProperty("authorization");
  });

  it("shows an application token its own application's entries and nothing of its sibling's or the organization's", async () => {
    const mine = await auditLog(a2.token);
    const text = JSON.stringify(mine);
    expect(text).not.toContain(CREDENTIAL.slice("Bearer ".length));
    expect(text).not.toContain(a1.appId);
    expect(text).not.toContain(a1.subscriptionId);
    expect(text).not.toContain(PAYLOAD_SECRET);
    expect(mine.map((e) => e.type).sort()).toEqual(["application.created", "event.received", "event_type.created", "subscription.created"]);

    const theirs = await auditLog(a1.token);
    const theirText = JSON.stringify(theirs);
    for (const leak of [a2.appId, A2_URL, A2_TOKEN_LABEL, a2.subscriptionId, a2.eventId, PAYLOAD_SECRET]) expect(theirText).not.toContain(leak);
    expect(theirs.map((e) => e.type).sort()).toEqual([
      "application.created", "delivery.cancelled", "delivery.retry_requested", "event.received", "event_type.created", "subscription.created",
      "subscription.disabled", "subscription.enabled", "subscription.updated",
    ]);
    expect(theirs.find((e) => e.type === "delivery.cancelled")).toMatchObject({ data: { app_id: a1.appId }, actor: { id: org.tokenId } });
    expect(theirs.find((e) => e.type === "delivery.retry_requested")).toMatchObject({ data: { app_id: a1.appId, reason: "manual" }, actor: { id: org.tokenId } });
    expect(theirs.find((e) => e.type === "subscription.updated")).toMatchObject({ stream: `subscription:${a1.subscriptionId}`, actor: { id: org.tokenId } });
  });

  it("pages an application token's entries like any other list, and filters them by type", async () => {
    const onePage = await ok(app.call("GET", "/v1/audit-log?limit=250", a1.token), 200);
    expect((await auditLog(a1.token)).map((e) => e.position)).toEqual(onePage.data.map((e: any) => e.position));
    expect((await auditLog(a1.token, "&type=token.created"))).toEqual([]);
    expect((await auditLog(a1.token, "&type=subscription.updated")).map((e) => e.data.subscription_id)).toEqual([a1.subscriptionId]);
  });
});

describe("GET /v1/usage", () => {
  it("needs applications:read", async () => {
    const refused = await app.call("GET", "/v1/usage", consumerToken);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ type: "urn:hookledger:problem:forbidden", required_scope: "applications:read" });
  });

  it("shows an application token its own application only", async () => {
    const usage = await ok(app.call("GET", "/v1/usage", a1.token), 200);
    expect(usage.usage).toEqual({ events_today: 2, subscriptions_per_application: { [a1.appId]: 1 } });
    expect(JSON.stringify(usage)).not.toContain(a2.appId);
    const whole = await ok(app.call("GET", "/v1/usage", org.token), 200);
    expect(whole.usage).toEqual({ events_today: 2, applications: 2, ingress_routes: 0, subscriptions_per_application: { [a1.appId]: 1, [a2.appId]: 1 } });
  });
});

describe("POST /v1/events/{id}/replay to a chosen subscription", () => {
  it("answers a sibling application's subscription exactly like an id that does not exist", async () => {
    const replay = async (subscriptionId: string) => {
      const response = await app.call("POST", `/v1/events/${a1.eventId}/replay`, a1.token, { subscription_id: subscriptionId });
      const { request_id: _requestId, ...body } = response.body;
      return { status: response.status, contentType: response.headers.get("content-type"), body };
    };
    const sibling = await replay(a2.subscriptionId);
    expect(sibling).toEqual(await replay(randomUUID()));
    expect(sibling.status).toBe(404);
    expect(sibling.contentType).toBe("application/problem+json");
    expect(sibling.body).toMatchObject({ type: "urn:hookledger:problem:not-found", errors: [{ field: "subscription_id" }] });
    expect(JSON.stringify(sibling.body)).not.toMatch(/another application/);
    // The organization token, which may see both, gets the same answer: the subscription is not in the event's application.
    expect((await app.call("POST", `/v1/events/${a1.eventId}/replay`, org.token, { subscription_id: a2.subscriptionId })).status).toBe(404);
    // Nothing was scheduled by the refusals.
    const [replayed] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger where org_id = ${org.orgId} and type = 'event.replayed'`;
    expect(replayed?.n).toBe(0);
  });
});

describe("what belongs to the organization, not to an application", () => {
  it("refuses an application token the organization, its ingress routes, their receipts and its pull queues (403), and serves the organization token", async () => {
    await ok(app.call("POST", "/v1/pull-queues", org.token, { name: "org-inbox" }), 201);
    const route = await ok(app.call("POST", "/v1/ingress-routes", org.token, { name: "org route", auth: { type: "basic", username: "sender" }, secrets: [{ value: "s3cret-password-16" }], queue: "org-inbox" }), 201);
    const reads: [string, string, unknown?][] = [
      ["GET", "/v1/organizations"],
      ["GET", `/v1/organizations/${org.orgId}`],
      ["GET", "/v1/ingress-routes"],
      ["GET", `/v1/ingress-routes/${route.id}`],
      ["GET", `/v1/ingress-routes/${route.id}/receipts`],
      ["GET", "/v1/pull-queues"],
      ["GET", "/v1/pull-queues/org-inbox"],
      ["POST", "/v1/pull/org-inbox/dequeue", {}],
      ["POST", "/v1/pull/org-inbox/ack", { lease_ids: ["00000000-0000-4000-8000-000000000000"] }],
      ["GET", "/v1/pull/org-inbox/dead-letters"],
    ];
    for (const [method, path, body] of reads) {
      const refused = await app.call(method, path, a1.token, body);
      expect({ method, path, status: refused.status, type: refused.body?.type }).toEqual({ method, path, status: 403, type: "urn:hookledger:problem:forbidden" });
      const served = await app.call(method, path, org.token, body);
      expect({ method, path, status: served.status }).toEqual({ method, path, status: 200 });
    }
  });
});
