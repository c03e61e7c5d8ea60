import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withTenant } from "../../src/db/tenant.ts";
import { append, STREAM_DOES_NOT_EXIST } from "../../src/ledger/append.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
const org = randomUUID();

beforeAll(async () => {
  db = await createTestDatabase();
  await withTenant(db.service, org, (tx) =>
    append(tx, "thing:1", STREAM_DOES_NOT_EXIST, [{ type: "ledger.partitions_created", data: { partitions: ["x"], months_ahead: 1 } }]),
  );
});
afterAll(async () => {
  await db.drop();
});

describe("the ledger is append-only", () => {
  it("the service role has no UPDATE, DELETE or TRUNCATE privilege", async () => {
    await expect(withTenant(db.service, org, (tx) => tx`update hookledger.ledger set data = '{}'`)).rejects.toThrow(/permission denied/);
    await expect(withTenant(db.service, org, (tx) => tx`delete from hookledger.ledger`)).rejects.toThrow(/permission denied/);
    await expect(withTenant(db.service, org, (tx) => tx`truncate hookledger.ledger`)).rejects.toThrow(/permission denied/);
  });

  it("a trigger refuses UPDATE, DELETE and TRUNCATE even for the owner (a superuser here)", async () => {
    const asOwner = (statement: string) =>
      db.owner.begin(async (tx) => {
        await tx`select set_config('hookledger.org_id', ${org}, true)`;
        await tx.unsafe(statement);
      });
    await expect(asOwner("update hookledger.ledger set data = '{}'")).rejects.toMatchObject({ code: "HL403" });
    await expect(asOwner("delete from hookledger.ledger")).rejects.toMatchObject({ code: "HL403" });
    await expect(asOwner("truncate hookledger.ledger")).rejects.toMatchObject({ code: "HL403" });
    const [partition] = await db.owner<{ name: string }[]>`
      select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'hookledger.ledger'::regclass limit 1`;
    await expect(asOwner(`truncate hookledger.${partition?.name}`)).rejects.toMatchObject({ code: "HL403" });
    await expect(asOwner(`update hookledger.${partition?.name} set data = '{}'`)).rejects.toMatchObject({ code: "HL403" });
    const [row] = await withTenant(db.service, org, (tx) => tx<{ n: number }[]>`select count(*)::int as n from hookledger.ledger where data <> '{}'`);
    expect(row?.n).toBe(1);
  });
});

describe("the ledger refuses malformed entries itself", () => {
  /** One row written straight into the ledger as the service role, under the tenant. */
  const insert = (stream: string, version: number, type: string) =>
    withTenant(db.service, org, (tx) => tx`insert into hookledger.ledger (org_id, stream, version, type, data) values (${org}, ${stream}, ${version}, ${type}, '{}')`);

  it("a stream of 1 to 200 characters, a version from 1 and a dotted lower-case type (sql/079's one check)", async () => {
    for (const [stream, version, type] of [
      ["", 1, "thing.happened"],
      ["s".repeat(201), 1, "thing.happened"],
      ["thing:2", 0, "thing.happened"],
      ["thing:2", -1, "thing.happened"],
      ["thing:2", 1, "Thing.happened"],
      ["thing:2", 1, "thinghappened"],
      ["thing:2", 1, "thing.happened."],
      ["thing:2", 1, "thing.happened\n"],
    ] as const) {
      await expect(insert(stream, version, type), `${JSON.stringify([stream, version, type])}`).rejects.toMatchObject({ code: "23514", constraint_name: "ledger_entry_check" });
    }
    await insert("s".repeat(200), 1, "thing.happened");
    await insert("x", 1, "a.b_2.c");
    const [row] = await withTenant(db.service, org, (tx) => tx<{ n: number }[]>`select count(*)::int as n from hookledger.ledger where stream in (${"s".repeat(200)}, 'x')`);
    expect(row?.n).toBe(2);
  });

  it("takes actor_kind and actor_id from meta's actor, whatever the writer gives (sql/080)", async () => {
    const meta = { actor: { kind: "token", id: "tok_actor", label: "ci" } };
    await withTenant(db.service, org, (tx) => tx`
      insert into hookledger.ledger (org_id, stream, version, type, data, meta, actor_kind, actor_id)
      values (${org}, 'actor:1', 1, 'thing.happened', '{}', ${tx.json(meta)}, 'system', 'someone else')`);
    await withTenant(db.service, org, (tx) => tx`insert into hookledger.ledger (org_id, stream, version, type, data) values (${org}, 'actor:2', 1, 'thing.happened', '{}')`);
    const rows = await withTenant(db.service, org, (tx) => tx<{ stream: string; actor_kind: string | null; actor_id: string | null }[]>`
      select stream, actor_kind, actor_id from hookledger.ledger where stream in ('actor:1', 'actor:2') order by stream`);
    expect(rows).toEqual([
      { stream: "actor:1", actor_kind: "token", actor_id: "tok_actor" },
      { stream: "actor:2", actor_kind: null, actor_id: null },
    ]);
  });
});
