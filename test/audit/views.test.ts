/**
 * The audit views as the service role sees them (row-level security through security_invoker), and what they
 * say about history produced by the real API and worker.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Tx } from "../../src/db/connect.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { AUDIT_APP_ENV, AUDIT_VIEWS, CLIENT_USER_AGENT, CREATE_REASON, CREATE_REQUEST_ID, ROTATE_REASON, seedAuditScenario, type AuditScenario } from "./scenario.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- view rows are asserted field by field */

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let s: AuditScenario;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true, env: AUDIT_APP_ENV });
  receiver = await startReceiver();
  s = await seedAuditScenario(app, db, receiver);
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

const asTenant = <T>(orgId: string, fn: (tx: Tx) => Promise<T>) => withTenant(db.service, orgId, fn);
const view = (orgId: string, name: string, where = "") =>
  asTenant(orgId, (tx) => tx.unsafe(`select * from hookledger_audit.${name} ${where}`)) as Promise<any[]>;

describe("audit views under row-level security (service role)", () => {
  it.each(AUDIT_VIEWS)("%s shows tenant A only A's rows", async (name) => {
    const rows = await view(s.a.orgId, name);
    expect(rows.length).toBeGreaterThan(0);
    expect([...new Set(rows.map((r) => r.org_id))]).toEqual([s.a.orgId]);
    // Not vacuous: the owner (past RLS) sees B's rows in the same view.
    const [other] = await db.owner.unsafe(`select count(*)::int as n from hookledger_audit.${name} where org_id = $1`, [s.b.orgId]);
    expect(other?.n).toBeGreaterThan(0);
  });

  it.each(AUDIT_VIEWS)("%s shows nothing without a tenant", async (name) => {
    const rows = await db.service.unsafe(`select count(*)::int as n from hookledger_audit.${name}`);
    expect(rows[0]?.n).toBe(0);
  });

  it("the service role may read the views but not write through them", async () => {
    await expect(asTenant(s.a.orgId, (tx) => tx`delete from hookledger_audit.event_log`)).rejects.toThrow(/permission denied for view event_log/);
    // A plain column: a computed one (reason) would be refused as non-updatable before privileges are checked.
    await expect(asTenant(s.a.orgId, (tx) => tx`update hookledger_audit.audit_log set type = type`)).rejects.toThrow(/permission denied for view audit_log/);
  });
});

describe("what the views say", () => {
  it("delivery_history shows each attempt with its outcome, error class, status and delivery state", async () => {
    const rows = await view(s.a.orgId, "delivery_history", "order by subscription_id, attempt_number");
    const of = (key: string) => rows.filter((r) => r.subscription_id === s.a.subscriptions[key]!.id);
    const common = { event_id: s.a.eventId, event_type: "invoice.paid", app_id: s.a.appId, delivery_reason: "fanout" };

    expect(of("ok")).toEqual([
      expect.objectContaining({ ...common, subscription_url: s.a.subscriptions.ok!.url, attempt_number: 1, outcome: "succeeded", status_code: 200, error_class: null, next_attempt_at: null, delivery_status: "succeeded" }),
    ]);
    expect(of("failing")).toEqual([
      expect.objectContaining({ ...common, attempt_number: 1, outcome: "failed", status_code: 500, error_class: "http_status", delivery_status: "failed", next_attempt_at: expect.any(Date) }),
      expect.objectContaining({ ...common, attempt_number: 2, outcome: "failed", status_code: 500, error_class: "http_status", delivery_status: "failed", next_attempt_at: null }),
    ]);
    expect(of("down").map((r) => [r.attempt_number, r.outcome, r.status_code, r.error_class])).toEqual([
      [1, "failed", null, "connection"],
      [2, "failed", null, "connection"],
      [3, "failed", null, "connection"],
    ]);
    for (const row of rows) {
      expect(row.duration_ms).toBeGreaterThanOrEqual(0);
      expect(row.attempted_at).toBeInstanceOf(Date);
    }
    // The view agrees with the API's own attempt list.
    const api = await app.call("GET", `/v1/attempts?subscription_id=${s.a.subscriptions.failing!.id}`, s.a.token);
    expect(api.body.data.map((a: any) => a.id).sort()).toEqual(of("failing").map((r) => r.attempt_id).sort());
  });

  it("event_log spells out actor and request metadata and hides token hashes and header values", async () => {
    const rows = await view(s.a.orgId, "event_log", "order by position");
    expect(rows.map((r) => r.type)).toEqual(expect.arrayContaining(["organization.created", "token.created", "subscription.created", "event.received", "delivery.attempted", "subscription.auto_disabled"]));
    const attempted = rows.find((r) => r.type === "delivery.attempted");
    expect(attempted).toMatchObject({ actor_kind: "worker", stream: expect.stringMatching(/^delivery:/), version: expect.any(Number) });

    const tokenCreated = rows.find((r) => r.type === "token.created" && r.data.token_id === s.a.tokenId);
    expect(tokenCreated.data).not.toHaveProperty("token_sha256");
    // Not vacuous: the ledger row itself does carry the hash.
    const [raw] = await db.owner`select data from hookledger.ledger where position = ${tokenCreated.position}`;
    expect(raw?.data.token_sha256).toMatch(/^[0-9a-f]{64}$/);

    const subscriptionCreated = rows.find((r) => r.type === "subscription.created" && r.data.subscription_id === s.a.subscriptions.ok!.id);
    expect(subscriptionCreated.data.headers).toEqual(["authorization"]);
    expect(JSON.stringify(rows)).not.toContain(s.a.headerCredential);
  });

  it("audit_log shows who created a subscription, why, when and from where — and only mutations", async () => {
    const rows = await view(s.a.orgId, "audit_log", "where type = 'subscription.created' order by position");
    const entry = rows.find((r) => r.data.subscription_id === s.a.subscriptions.ok!.id);
    expect(entry).toMatchObject({
      actor_kind: "token",
      actor_id: s.a.tokenId,
      actor_label: "Tenant A admin",
      type: "subscription.created",
      stream: `subscription:${s.a.subscriptions.ok!.id}`,
      reason: CREATE_REASON,
      ip: "127.0.0.1",
      user_agent: CLIENT_USER_AGENT,
      request_id: CREATE_REQUEST_ID,
      recorded_at: expect.any(Date),
    });
    expect(entry.data).toMatchObject({ url: s.a.subscriptions.ok!.url, app_id: s.a.appId, headers: ["authorization"] });

    const all = await view(s.a.orgId, "audit_log");
    expect([...new Set(all.map((r) => r.actor_kind))].sort()).toEqual(["instance_admin", "token"]);
    const [ledger] = await db.owner`select count(*)::int as n from hookledger.ledger where org_id = ${s.a.orgId} and actor_kind in ('token', 'instance_admin')`;
    expect(all).toHaveLength(ledger!.n);
  });

  it("failing_endpoints lists failing and auto-disabled subscriptions, not healthy ones", async () => {
    const rows = await view(s.a.orgId, "failing_endpoints");
    const byId = new Map(rows.map((r) => [r.subscription_id, r]));
    expect(byId.has(s.a.subscriptions.ok!.id)).toBe(false);
    expect(byId.get(s.a.subscriptions.failing!.id)).toMatchObject({
      org_name: "Tenant A", app_id: s.a.appId, app_name: "billing A", url: s.a.subscriptions.failing!.url,
      consecutive_failures: 2, enabled: true, auto_disabled_at: null, disabled_reason: null, last_success_at: null,
      last_status_code: 500, last_error_class: "http_status", failing_since: expect.any(Date), last_failure_at: expect.any(Date),
    });
    expect(byId.get(s.a.subscriptions.down!.id)).toMatchObject({
      consecutive_failures: 3, enabled: false, auto_disabled_at: expect.any(Date), disabled_reason: "auto_disabled",
      last_status_code: null, last_error_class: "connection",
    });
    expect(rows).toHaveLength(2);
  });

  it("tenant_usage counts events, deliveries and attempts per day", async () => {
    // Summed over days so a run that straddles midnight UTC still adds up.
    const totals = async (orgId: string) =>
      (await asTenant(orgId, (tx) => tx`
        select sum(events_received)::int as events, sum(deliveries_attempted)::int as deliveries, sum(attempts)::int as attempts,
               sum(attempts_succeeded)::int as succeeded, sum(attempts_failed)::int as failed, min(org_name) as org_name
        from hookledger_audit.tenant_usage`))[0];
    expect(await totals(s.a.orgId)).toEqual({ events: 1, deliveries: 3, attempts: 6, succeeded: 1, failed: 5, org_name: "Tenant A" });
    expect(await totals(s.b.orgId)).toEqual({ events: 1, deliveries: 2, attempts: 2, succeeded: 1, failed: 1, org_name: "Tenant B" });
    const [today] = await view(s.b.orgId, "tenant_usage");
    expect(today.day).toBeInstanceOf(Date);
    expect(Number(today.success_rate)).toBe(0.5);
  });

  it("secret_rotations records a rotation and a reveal with key ids, and no secret", async () => {
    const rows = await view(s.a.orgId, "secret_rotations", "order by position");
    expect(rows.map((r) => r.kind)).toEqual(["rotated", "revealed"]);
    expect(rows[0]).toMatchObject({
      subscription_id: s.a.subscriptions.ok!.id,
      app_id: s.a.appId,
      subscription_url: s.a.subscriptions.ok!.url,
      key_id: s.a.rotation.keyId,
      previous_key_id: s.a.rotation.previousKeyId,
      previous_key_expires_at: expect.any(Date),
      actor_kind: "token",
      actor_id: s.a.tokenId,
      actor_label: "Tenant A admin",
      reason: ROTATE_REASON,
      ip: "127.0.0.1",
    });
    expect(rows[1]).toMatchObject({ key_id: s.a.rotation.keyId, previous_key_id: null, previous_key_expires_at: null, actor_id: s.a.tokenId });
    const text = JSON.stringify(rows);
    expect(s.a.secrets.length).toBeGreaterThanOrEqual(5);
    // A whsec_ secret is base64 after its prefix; searching for that part also catches a copy without the prefix.
    for (const secret of s.a.secrets) expect(text).not.toContain(secret.replace(/^whsec_/, ""));
    expect(text).not.toMatch(/whsec_|ciphertext/);
  });
});
