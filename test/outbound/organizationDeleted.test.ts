/**
 * Deleting an organization stops its webhooks: its subscriptions end with it, and the deliveries still open — due
 * now or retrying later — are cancelled when they come up, never sent. Before, the deleted tenant's endpoints
 * were still called (with its custom headers) minutes and retries later, and nobody could stop it: its tokens
 * were revoked.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;

beforeAll(async () => {
  db = await createTestDatabase();
  // No circuit breaker: the other organization's endpoint fails six times here, and with the default (open after 5)
  // its third retry waited out the cooldown whenever the retries ran one by one instead of in one job (CI under Bun).
  app = await startTestApp(db, { worker: true, env: { HOOKLEDGER_MIN_RETRY_DELAY_MS: "1000", HOOKLEDGER_CIRCUIT_FAILURES: "0" } });
  receiver = await startReceiver();
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

describe("DELETE /v1/organizations/{id}", () => {
  it("ends the organization's subscriptions and cancels its open deliveries: nothing more reaches its endpoints", async () => {
    const t = await outboundTenant(app, ["order.placed"]);
    const other = await outboundTenant(app, ["order.placed"]);
    receiver.respond("/deleted-tenant", { status: 500, body: "down" });
    receiver.respond("/other-tenant", { status: 500, body: "down" });
    await t.subscribe({ url: receiver.url("/deleted-tenant"), event_types: ["order.placed"], retry_schedule: [1], headers: { "X-Api-Key": "tenant-secret" } });
    await other.subscribe({ url: receiver.url("/other-tenant"), event_types: ["order.placed"], retry_schedule: [1] });
    for (let n = 0; n < 3; n++) {
      expect((await t.send({ event_type: "order.placed", event_id: `gone_${n}` })).status).toBe(202);
      expect((await other.send({ event_type: "order.placed", event_id: `kept_${n}` })).status).toBe(202);
    }
    // Every delivery has failed once and is retrying.
    await receiver.waitFor(3, "/deleted-tenant");
    await receiver.waitFor(3, "/other-tenant");

    expect((await app.call("DELETE", `/v1/organizations/${t.orgId}`, TEST_ADMIN_TOKEN)).status).toBe(204);
    const deletedAt = Date.now();
    const live = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.subscriptions where org_id = ${t.orgId} and deleted_at is null`;
    expect(live[0]?.n).toBe(0);

    // The retries come due (1 s) and are cancelled instead of sent; the other organization's go on.
    const statuses = await eventually(async () => {
      const rows = await db.owner<{ status: string }[]>`select status from hookledger.deliveries where org_id = ${t.orgId}`;
      return rows.length === 3 && rows.every((row) => row.status === "cancelled") ? rows : undefined;
    }, 15_000, "the deleted organization's deliveries to be cancelled");
    expect(statuses).toHaveLength(3);
    await receiver.waitFor(6, "/other-tenant");
    // A request already out when the DELETE committed may still land; none is sent after that.
    const late = receiver.requests.filter((request) => request.path === "/deleted-tenant" && request.at.getTime() > deletedAt + 500);
    expect(late).toEqual([]);
    const [cancelled] = await db.owner<{ n: number }[]>`
      select count(*)::int as n from hookledger.ledger where org_id = ${t.orgId} and type = 'delivery.cancelled' and data->>'reason' = 'subscription deleted'`;
    expect(cancelled?.n).toBe(3);
  });
});
