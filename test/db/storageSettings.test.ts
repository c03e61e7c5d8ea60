/**
 * Storage settings of the write path: bulky columns carry no planner statistics (sql/065) — ANALYZE skips them, on
 * the ledger's partitions too, those made later included, while the columns queries filter on keep theirs —,
 * stream rows are updated in place, without a new index entry (sql/066), a new delivery takes no entry in the
 * retry promoter's index (sql/071); the append plans its statements once per session (sql/075); the events list's
 * channel filter reads an index of channelled events only (sql/095).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

/** Per-column statistics target of a table: 0 = none gathered, null = the default. */
async function targets(table: string): Promise<Map<string, number | null>> {
  const rows = await db.owner<{ column: string; target: number | null }[]>`
    select attname as column, attstattarget as target from pg_attribute
    where attrelid = ${table}::regclass and attnum > 0 and not attisdropped`;
  return new Map(rows.map((row) => [row.column, row.target]));
}

describe("statistics targets", () => {
  it("gathers none for bodies, payloads, header maps and entry data, and keeps the rest", async () => {
    const expected: Record<string, string[]> = {
      "hookledger.ledger": ["data", "meta"],
      "hookledger.events": ["payload"],
      "hookledger.delivery_attempts": ["response_headers", "response_excerpt"],
      "hookledger.ingress_receipts": ["headers", "body", "verification"],
    };
    for (const [table, bulky] of Object.entries(expected)) {
      const byColumn = await targets(table);
      for (const column of bulky) expect({ table, column, target: byColumn.get(column) }).toEqual({ table, column, target: 0 });
      for (const [column, target] of byColumn) if (!bulky.includes(column)) expect({ table, column, target }).toEqual({ table, column, target: null });
    }
  });

  it("sets it on every ledger partition, those created after the migration too", async () => {
    const [created] = await db.owner<{ name: string }[]>`select hookledger_private.ensure_ledger_partitions(0, '2031-07-01') as name`;
    expect(created?.name).toBe("ledger_y2031m07");
    const partitions = await db.owner<{ name: string }[]>`select inhrelid::regclass::text as name from pg_inherits where inhparent = 'hookledger.ledger'::regclass`;
    expect(partitions.map((p) => p.name)).toContain("hookledger.ledger_y2031m07");
    for (const { name } of partitions) {
      const byColumn = await targets(name);
      expect({ name, data: byColumn.get("data"), meta: byColumn.get("meta"), stream: byColumn.get("stream") }).toEqual({ name, data: 0, meta: 0, stream: null });
    }
  });

  it("analyses a partition without them: no statistics for data or meta, the plain columns have theirs", async () => {
    const [month] = await db.owner<{ name: string }[]>`select to_char(now(), '"ledger_y"YYYY"m"MM') as name`;
    const partition = month?.name ?? "";
    const orgId = "0a4e3a52-6d0e-4a8e-9d3c-5a0f3c1b2d11";
    await db.owner.begin(async (tx) => {
      await tx`select set_config('hookledger.org_id', ${orgId}, true)`;
      await tx`
        insert into hookledger.ledger (org_id, stream, version, type, data, meta)
        select ${orgId}::uuid, 'test:' || g, 1, 'test.recorded', jsonb_build_object('payload', repeat('x', 200), 'n', g),
          '{"actor": {"kind": "token", "id": "t"}}'
        from generate_series(1, 200) g`;
    });
    await db.owner.unsafe(`analyze hookledger.${partition}`);
    const stats = await db.owner<{ column: string }[]>`select attname as column from pg_stats where schemaname = 'hookledger' and tablename = ${partition}`;
    const columns = stats.map((s) => s.column);
    expect(columns).toContain("stream");
    expect(columns).toContain("type");
    expect(columns).not.toContain("data");
    expect(columns).not.toContain("meta");
  });
});

describe("stream updates", () => {
  it("are mostly heap-only (HOT): an append to an existing stream usually adds no index entry", async () => {
    const orgId = "5b1f0c9e-2f43-4c71-8a55-0d6f2b9e7c31";
    const streams = Array.from({ length: 200 }, (_, i) => `test:hot-${i}`);
    const hotUpdates = async () => {
      await db.owner`select pg_stat_force_next_flush()`;
      await db.owner`select pg_stat_clear_snapshot()`;
      const [row] = await db.owner<{ hot: string; all: string }[]>`
        select n_tup_hot_upd as hot, n_tup_upd as all from pg_stat_user_tables where schemaname = 'hookledger' and relname = 'ledger_streams'`;
      return { hot: Number(row?.hot ?? 0), all: Number(row?.all ?? 0) };
    };
    await db.owner.begin(async (tx) => {
      await tx`select set_config('hookledger.org_id', ${orgId}, true)`;
      await tx`insert into hookledger.ledger_streams (org_id, stream, version) select ${orgId}::uuid, s, 1 from unnest(${streams}::text[]) s`;
    });
    const before = await hotUpdates();
    await db.owner.begin(async (tx) => {
      await tx`select set_config('hookledger.org_id', ${orgId}, true)`;
      await tx`update hookledger.ledger_streams set version = version + 1, updated_at = now() where org_id = ${orgId}::uuid and stream = any(${streams}::text[])`;
    });
    const after = await hotUpdates();
    expect(after.all - before.all).toBe(200);
    // Every row of a page updated at once: the 30% left free holds the new versions of about 40% of them (none
    // with the default fillfactor); spread over time, pruning frees room for the rest.
    expect(after.hot - before.hot).toBeGreaterThanOrEqual(80);
  });
});

describe("the retry promoter's index (sql/071)", () => {
  it("holds retrying deliveries only, and serves the promoter's query under a generic plan", async () => {
    // 20 retrying deliveries the promoter looks for, 30 pending ones (each with its job) it never does.
    const orgId = "7c2d9e41-5a0b-4c3f-9e8d-1b2a3c4d5e6f";
    const appId = "8d3e0f52-6b1c-4d40-8f9e-2c3b4d5e6f70";
    const subscriptionId = "9e4f1063-7c2d-4e51-9a0f-3d4c5e6f7081";
    await db.owner.begin(async (tx) => {
      await tx`select set_config('hookledger.org_id', ${orgId}, true)`;
      await tx`
        insert into hookledger.deliveries (org_id, delivery_id, event_id, subscription_id, app_id, status, reason, attempts, next_attempt_at, created_at, updated_at)
        select ${orgId}::uuid, gen_random_uuid(), 'evt_due_' || g, ${subscriptionId}::uuid, ${appId}::uuid,
          case when g <= 20 then 'retrying' else 'pending' end, 'fanout', case when g <= 20 then 1 else 0 end,
          now() + g * interval '1 minute', now(), now()
        from generate_series(1, 50) g`;
    });
    const [index] = await db.owner<{ predicate: string }[]>`
      select pg_get_expr(indpred, indrelid) as predicate from pg_index where indexrelid = 'hookledger.deliveries_due_idx'::regclass`;
    expect(index?.predicate).toBe("(status = 'retrying'::text)");

    // The promoter's statement (outbound/promoteRetriesTask.ts), planned once for any parameters.
    const plan = await db.owner.begin(async (tx) => {
      await tx`select set_config('hookledger.org_id', ${orgId}, true)`;
      await tx`set local plan_cache_mode = force_generic_plan`;
      await tx`set local enable_seqscan = off`;
      await tx.unsafe(`prepare due_retries(timestamptz, timestamptz) as
        select delivery_id, attempts, next_attempt_at from hookledger.deliveries
        where org_id = hookledger.current_org_id() and status = 'retrying' and next_attempt_at >= $1 and next_attempt_at < $2
        order by next_attempt_at limit 2000`);
      const rows = await tx.unsafe(`explain (format json) execute due_retries(now(), now() + interval '1 hour')`);
      await tx.unsafe("deallocate due_retries");
      return JSON.stringify(rows);
    });
    expect(plan).toContain('"Index Name":"deliveries_due_idx"');
  });
});

describe("the events list's channel index (sql/095)", () => {
  it("holds events with channels only, and serves ?channel= as the service role, under a generic plan", async () => {
    // 200 events without channels (most events have none), 10 with.
    const orgId = "3b7e21c4-8d5f-4a60-9b1c-0e2f3a4b5c6d";
    const appId = "4c8f32d5-9e60-4b71-8c2d-1f3a4b5c6d7e";
    await db.owner.begin(async (tx) => {
      await tx`select set_config('hookledger.org_id', ${orgId}, true)`;
      await tx`
        insert into hookledger.events (org_id, event_id, app_id, event_type, content_type, payload_encoding, payload, payload_sha256,
          request_fingerprint, channels, occurred_at, received_at, deliveries_scheduled)
        select ${orgId}::uuid, 'evt_channels_' || g, ${appId}::uuid, 'user.created', 'application/json', 'json', '{}', 'x', 'x',
          case when g % 20 = 0 then array['orders', 'region.' || g] end, now() - g * interval '1 second', now() - g * interval '1 second', 0
        from generate_series(1, 200) g`;
    });
    await db.owner`analyze hookledger.events`;
    const [index] = await db.owner<{ predicate: string }[]>`
      select pg_get_expr(indpred, indrelid) as predicate from pg_index where indexrelid = 'hookledger.events_channels_list_idx'::regclass`;
    expect(index?.predicate).toBe("(channels IS NOT NULL)");

    // The list's statement with ?channel= (outbound/deliveryStore.ts, listEvents), as hookledger_app under
    // row-level security, planned once for any channel.
    const plan = await db.service.begin(async (tx) => {
      await tx`select set_config('hookledger.org_id', ${orgId}, true)`;
      await tx`set local plan_cache_mode = force_generic_plan`;
      await tx`set local enable_seqscan = off`;
      await tx.unsafe(`prepare events_of_channel(text, integer) as
        select event_id from hookledger.events e
        where org_id = hookledger.current_org_id() and $1::text = any(channels)
        order by received_at desc, event_id desc limit $2`);
      const rows = await tx.unsafe(`explain (format json) execute events_of_channel('orders', 51)`);
      await tx.unsafe("deallocate events_of_channel");
      return JSON.stringify(rows);
    });
    expect(plan).toContain('"Index Name":"events_channels_list_idx"');
  });
});

describe("plans of the append", () => {
  it("append_entries plans its statements once per session: a generic plan, whatever the streams", async () => {
    const [fn] = await db.owner<{ config: string[] | null }[]>`
      select proconfig as config from pg_proc where oid = 'hookledger.append_entries(text[], integer[], integer[], jsonb)'::regprocedure`;
    expect(fn?.config).toEqual(["plan_cache_mode=force_generic_plan"]);

    // The setting is the function's own: calls appending to new streams work, and the caller's session keeps its mode.
    const orgId = "3b1c9e2a-5d4f-4e6a-8b7c-9d0e1f2a3b4c";
    const owner = db.owner;
    const callerMode = await owner.begin(async (tx) => {
      await tx`select set_config('hookledger.org_id', ${orgId}, true)`;
      for (let i = 0; i < 10; i += 1) {
        const entries = [{ s: 0, type: "token.revoked", data: { token_id: `00000000-0000-4000-8000-00000000000${i}` }, meta: {} }];
        await tx`select from hookledger.append_entries(${[`plan-test:${i}`]}::text[], ${[0]}::int[], ${[1]}::int[], ${tx.json(entries)}::jsonb)`;
      }
      return (await tx<{ mode: string }[]>`select current_setting('plan_cache_mode') as mode`)[0]?.mode;
    });
    expect(callerMode).toBe("auto");
    const appended = await owner<{ n: string }[]>`select count(*) as n from hookledger.ledger where org_id = ${orgId} and stream like 'plan-test:%'`;
    expect(appended[0]?.n).toBe("10");
  });
});
