import { quickAddJob } from "graphile-worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ORG_ID, withTenant } from "../../src/db/tenant.ts";
import { ownerClientOf } from "../../src/db/ownerClient.ts";
import { ensureLedgerPartitions } from "../../src/ledger/partitions.ts";
import { APPLY_RETENTION_TASK } from "../../src/ledger/retentionTask.ts";
import { eventually, startTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "../outbound/setup.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let shortLived: Awaited<ReturnType<typeof outboundTenant>>;
let longLived: Awaited<ReturnType<typeof outboundTenant>>;

const countOf = async (orgId: string) => {
  const [row] = await db.owner<{ attempts: number; deliveries: number; events: number; ledger: number }[]>`
    select (select count(*)::int from hookledger.delivery_attempts where org_id = ${orgId}) as attempts,
           (select count(*)::int from hookledger.deliveries where org_id = ${orgId}) as deliveries,
           (select count(*)::int from hookledger.events where org_id = ${orgId}) as events,
           (select count(*)::int from hookledger.ledger where org_id = ${orgId}) as ledger`;
  return row!;
};

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true });
  receiver = await startReceiver();
  shortLived = await outboundTenant(app);
  longLived = await outboundTenant(app);
  for (const t of [shortLived, longLived]) {
    await t.subscribe({ url: receiver.url("/r") });
    await t.send({});
    await t.send({});
  }
  await receiver.waitFor(4, "/r");
  await eventually(async () => ((await countOf(longLived.orgId)).attempts === 2 && (await countOf(shortLived.orgId)).attempts === 2 ? true : undefined));
  // An old month of ledger entries, as if written in January 2020.
  await ensureLedgerPartitions(ownerClientOf(db.owner), 0, new Date("2020-01-15T00:00:00Z"));
  await db.owner`insert into hookledger.ledger (org_id, stream, version, type, data, recorded_at)
                 values (${shortLived.orgId}, 'old:1', 1, 'ledger.partitions_created', '{"partitions":[],"months_ahead":0}', '2020-01-10T00:00:00Z')`;
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

describe("retention", () => {
  it("lets only the instance admin set an organization's retention", async () => {
    const denied = await app.call("PATCH", `/v1/organizations/${longLived.orgId}`, longLived.token, { retention_days: 365 });
    expect(denied.status).toBe(403);
    const invalid = await app.call("PATCH", `/v1/organizations/${longLived.orgId}`, TEST_ADMIN_TOKEN, { retention_days: 0 });
    expect(invalid.body.errors).toEqual([{ field: "retention_days", message: "at least 1 day" }]);
    const set = await app.call("PATCH", `/v1/organizations/${longLived.orgId}`, TEST_ADMIN_TOKEN, { retention_days: 365 });
    expect(set.body.retention_days).toBe(365);
  });

  it("the cron task prunes each tenant's history by its own retention and drops partitions past the longest", async () => {
    const ledgerBefore = await countOf(shortLived.orgId);
    // Only the worker whose clock is 100 days ahead may pick the job up.
    await app.worker?.stop();
    const later = await startTestApp(db, { api: false, worker: true, now: () => new Date(Date.now() + 100 * 86_400_000) });
    try {
      await quickAddJob({ connectionString: db.ownerUrl }, APPLY_RETENTION_TASK, {});
      const applied = await eventually(async () => {
        const rows = await withTenant(db.service, SYSTEM_ORG_ID, (tx) => tx<{ data: Record<string, unknown> }[]>`
          select data from hookledger.ledger where type = 'retention.applied'`);
        return rows[0]?.data;
      });
      expect(applied).toMatchObject({ attempts_deleted: 2, deliveries_deleted: 2, events_deleted: 2, partitions_dropped: ["ledger_y2020m01"] });
    } finally {
      await later.stop();
    }
    // Default retention (90 days) is past for the short-lived tenant; 365 days is not for the other.
    expect(await countOf(shortLived.orgId)).toEqual({ attempts: 0, deliveries: 0, events: 0, ledger: ledgerBefore.ledger - 1 });
    expect(await countOf(longLived.orgId)).toMatchObject({ attempts: 2, deliveries: 2, events: 2 });
    const [partition] = await db.owner<{ exists: boolean }[]>`select to_regclass('hookledger.ledger_y2020m01') is not null as exists`;
    expect(partition?.exists).toBe(false);
    // The API no longer shows pruned history.
    expect((await app.call("GET", "/v1/events", shortLived.token)).body.data).toEqual([]);
    expect((await app.call("GET", "/v1/events", longLived.token)).body.data).toHaveLength(2);
  });
});
