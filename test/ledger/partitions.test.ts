import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { quickAddJob } from "graphile-worker";
import { SYSTEM_ORG_ID, withTenant } from "../../src/db/tenant.ts";
import { ownerClientOf } from "../../src/db/ownerClient.ts";
import { ensureLedgerPartitions } from "../../src/ledger/partitions.ts";
import { ENSURE_PARTITIONS_TASK } from "../../src/ledger/partitionTask.ts";
import { eventually, startTestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

const partitions = async () =>
  (
    await db.owner<{ name: string }[]>`
      select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'hookledger.ledger'::regclass order by 1`
  ).map((r) => r.name);

describe("ledger partitions", () => {
  it("exist for this month and the configured months ahead after migration", async () => {
    const now = new Date();
    const name = (offset: number) => {
      const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
      return `ledger_y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
    };
    expect(await partitions()).toEqual(expect.arrayContaining([name(0), name(1), name(2), name(3)]));
  });

  it("are created idempotently, with a TRUNCATE guard, for a given month", async () => {
    expect(await ensureLedgerPartitions(ownerClientOf(db.owner), 1, new Date("2031-12-15T00:00:00Z"))).toEqual(["ledger_y2031m12", "ledger_y2032m01"]);
    expect(await ensureLedgerPartitions(ownerClientOf(db.owner), 1, new Date("2031-12-15T00:00:00Z"))).toEqual([]);
    const [trigger] = await db.owner<{ n: number }[]>`
      select count(*)::int as n from pg_trigger where tgrelid = 'hookledger.ledger_y2032m01'::regclass and tgname = 'ledger_refuse_truncate'`;
    expect(trigger?.n).toBe(1);
  });

  it("are created ahead by the cron task in the worker, which records what it made", async () => {
    const app = await startTestApp(db, { api: false, worker: true, now: () => new Date("2035-03-10T12:00:00Z") });
    try {
      await quickAddJob({ connectionString: db.ownerUrl }, ENSURE_PARTITIONS_TASK, {});
      const recorded = await eventually(async () => {
        const rows = await withTenant(db.service, SYSTEM_ORG_ID, (tx) =>
          tx<{ data: { partitions: string[] } }[]>`select data from hookledger.ledger where type = 'ledger.partitions_created'`);
        return rows[0];
      });
      expect(recorded.data.partitions).toEqual(["ledger_y2035m03", "ledger_y2035m04", "ledger_y2035m05", "ledger_y2035m06"]);
      expect(await partitions()).toEqual(expect.arrayContaining(recorded.data.partitions));
    } finally {
      await app.stop();
    }
  });
});
