/**
 * Two tenants with enough history that every audit view has rows for both, produced through the real API and
 * worker (never by inserting projection rows, which would test the views against data the app cannot produce).
 *
 * Tenant A, one event fanned out to three endpoints:
 *   ok      → 200 on the first attempt; created with an X-Audit-Reason and an Authorization custom header;
 *             its secret is then rotated (with a reason) and the new one revealed.
 *   failing → 500 twice (max_attempts 2): consecutive_failures 2, still enabled.
 *   down    → a closed loopback port, three connection errors (max_attempts 3): auto-disabled at the third.
 * Tenant B, one event to two endpoints: ok (200) and failing (500, max_attempts 1); its secret rotated once.
 */
import { createTenant, eventually, type TestApp } from "../support/app.ts";
import type { TestDatabase } from "../support/database.ts";
import type { Receiver } from "../support/receiver.ts";

/** Auto-disable at the third consecutive failure, immediately: only A's "down" endpoint reaches it. */
export const AUDIT_APP_ENV = { HOOKLEDGER_AUTO_DISABLE_FAILURES: "3", HOOKLEDGER_AUTO_DISABLE_PERIOD_SECONDS: "0" };

export const CREATE_REASON = "CHG-1001 billing go-live";
export const ROTATE_REASON = "CHG-1002 quarterly rotation";
export const CREATE_REQUEST_ID = "audit-views-create-0001";
export const CLIENT_USER_AGENT = "audit-views-suite/1.0";

export interface AuditTenant {
  orgId: string;
  token: string;
  tokenId: string;
  appId: string;
  eventId: string;
  subscriptions: Record<string, { id: string; url: string }>;
  /** Credential-like custom header value sent to A's ok endpoint; must never show in an audit view. */
  headerCredential: string;
  /** Every signing secret the API handed out for this tenant (created, rotated, revealed). */
  secrets: string[];
  rotation: { keyId: string; previousKeyId: string };
}

export interface AuditScenario {
  a: AuditTenant;
  b: AuditTenant;
}

/**
 * A loopback port nobody listens on: connecting to it fails at once with ECONNREFUSED. Port 9 (discard), not a
 * port that was free a moment ago: tests running beside this one take ephemeral ports, and one could have taken it.
 */
const CLOSED_PORT = 9;

async function seedTenant(
  app: TestApp,
  db: TestDatabase,
  receiver: Receiver,
  name: "A" | "B",
  endpoints: Record<string, { url: string; body?: Record<string, unknown> }>,
): Promise<AuditTenant> {
  const tenant = await createTenant(app, `Tenant ${name}`);
  const application = await app.call("POST", "/v1/applications", tenant.token, { name: `billing ${name}` });
  const eventType = await app.call("POST", `/v1/applications/${application.body.id}/event-types`, tenant.token, { name: "invoice.paid" });
  if (application.status !== 201 || eventType.status !== 201) throw new Error(`tenant ${name}: ${JSON.stringify([application.body, eventType.body])}`);

  const headerCredential = `Bearer receiver-credential-${name.toLowerCase()}-7f3a9c`;
  const secrets: string[] = [];
  const subscriptions: AuditTenant["subscriptions"] = {};
  for (const [key, endpoint] of Object.entries(endpoints)) {
    // Only the ok endpoint is created with audit headers, so the audit_log test can find exactly that entry.
    const auditHeaders: Record<string, string> = key === "ok" ? { "X-Audit-Reason": CREATE_REASON, "X-Request-ID": CREATE_REQUEST_ID, "User-Agent": CLIENT_USER_AGENT } : {};
    const created = await app.call(
      "POST",
      "/v1/subscriptions",
      tenant.token,
      { app_id: application.body.id, url: endpoint.url, event_types: ["*"], ...(key === "ok" ? { headers: { Authorization: headerCredential } } : {}), ...endpoint.body },
      auditHeaders,
    );
    if (created.status !== 201) throw new Error(`subscription ${name}/${key}: ${created.status} ${JSON.stringify(created.body)}`);
    subscriptions[key] = { id: created.body.id, url: endpoint.url };
    secrets.push(created.body.secret);
  }

  const eventId = `evt_audit_${name.toLowerCase()}`;
  const sent = await app.call("POST", "/v1/events", tenant.token, { app_id: application.body.id, event_type: "invoice.paid", event_id: eventId, payload: { amount: 42 } });
  if (sent.status !== 202) throw new Error(`event ${eventId}: ${sent.status} ${JSON.stringify(sent.body)}`);
  const final = new Set(["succeeded", "failed", "cancelled"]);
  await eventually(async () => {
    const event = await app.call("GET", `/v1/events/${eventId}`, tenant.token);
    const deliveries: { status: string }[] = event.body.deliveries ?? [];
    return deliveries.length === Object.keys(endpoints).length && deliveries.every((d) => final.has(d.status)) ? true : undefined;
  }, 20_000, `deliveries of ${eventId} to settle`);

  const okId = subscriptions.ok!.id;
  // The create response carries no key id; the subscription.created entry does (read past RLS, as the owner).
  const [original] = await db.owner<{ key_id: string }[]>`
    select data->>'key_id' as key_id from hookledger.ledger where type = 'subscription.created' and stream = ${`subscription:${okId}`}`;
  const rotated = await app.call("POST", `/v1/subscriptions/${okId}/secret/rotate`, tenant.token, { overlap_seconds: 60 }, { "X-Audit-Reason": ROTATE_REASON });
  if (rotated.status !== 200) throw new Error(`rotate ${name}: ${rotated.status} ${JSON.stringify(rotated.body)}`);
  secrets.push(rotated.body.secret);
  if (name === "A") {
    const revealed = await app.call("GET", `/v1/subscriptions/${okId}/secret`, tenant.token);
    secrets.push(revealed.body.secret);
  }
  await receiver.waitFor(1, new URL(endpoints.ok!.url).pathname);
  return {
    ...tenant,
    appId: application.body.id,
    eventId,
    subscriptions,
    headerCredential,
    secrets,
    rotation: { keyId: rotated.body.key_id, previousKeyId: original!.key_id },
  };
}

export async function seedAuditScenario(app: TestApp, db: TestDatabase, receiver: Receiver): Promise<AuditScenario> {
  receiver.respond("/a-ok", { status: 200, body: "ok" });
  receiver.respond("/a-failing", { status: 500, body: "boom" });
  receiver.respond("/b-ok", { status: 200, body: "ok" });
  receiver.respond("/b-failing", { status: 500, body: "boom" });
  const a = await seedTenant(app, db, receiver, "A", {
    ok: { url: receiver.url("/a-ok") },
    failing: { url: receiver.url("/a-failing"), body: { max_attempts: 2, retry_schedule: [0.05] } },
    down: { url: `http://127.0.0.1:${CLOSED_PORT}/down`, body: { max_attempts: 3, retry_schedule: [0.05] } },
  });
  const b = await seedTenant(app, db, receiver, "B", {
    ok: { url: receiver.url("/b-ok") },
    failing: { url: receiver.url("/b-failing"), body: { max_attempts: 1 } },
  });
  return { a, b };
}

/** Every view this migration creates; the catalog test also covers views others add to the schema later. */
export const AUDIT_VIEWS = ["delivery_history", "event_log", "audit_log", "failing_endpoints", "tenant_usage", "secret_rotations"] as const;
