/**
 * A DBA login granted hookledger_auditor, connected for real: it reads every audit view across tenants, and
 * every attempt to write or to read secrets fails. The role is cluster-wide, so its name is random (test files
 * share one server) and it is dropped afterwards.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUDITOR_ROLE, connect, type Sql } from "../../src/db/connect.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { AUDIT_APP_ENV, AUDIT_VIEWS, seedAuditScenario, type AuditScenario } from "./scenario.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- view rows are asserted field by field */

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let s: AuditScenario;
let dba: Sql;
const dbaRole = `hl_test_dba_${randomBytes(6).toString("hex")}`;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { worker: true, env: AUDIT_APP_ENV });
  receiver = await startReceiver();
  s = await seedAuditScenario(app, db, receiver);
  // hex only: safe inside the literal (CREATE ROLE takes no bind parameters).
  const password = randomBytes(18).toString("hex");
  await db.owner.unsafe(`create role ${dbaRole} login password '${password}' in role ${AUDITOR_ROLE}`);
  const url = new URL(db.ownerUrl);
  url.username = dbaRole;
  url.password = password;
  dba = connect(url.toString(), { max: 2, applicationName: "hookledger-test-dba" });
});
afterAll(async () => {
  await dba?.end({ timeout: 5 });
  await db?.owner.unsafe(`drop role if exists ${dbaRole}`);
  await app?.stop();
  await receiver?.close();
  await db.drop();
});

const tenantTables = async () =>
  (
    await db.owner<{ name: string }[]>`
      select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'hookledger' and c.relkind in ('r', 'p') and not c.relispartition order by 1`
  ).map((t) => t.name);

describe("a DBA with hookledger_auditor", () => {
  it("is who the test thinks it is: a plain login, not the owner", async () => {
    const [me] = await dba`select current_user as user, (select rolsuper or rolbypassrls from pg_roles where rolname = current_user) as privileged,
                                 pg_has_role(current_user, ${AUDITOR_ROLE}, 'USAGE') as auditor`;
    expect(me).toEqual({ user: dbaRole, privileged: false, auditor: true });
  });

  it.each(AUDIT_VIEWS)("reads %s across tenants, exactly the rows the owner sees", async (name) => {
    const orgs = [s.a.orgId, s.b.orgId];
    // Whole rows, not counts: a joined table the auditor could not read would leave the row count intact and
    // turn its columns NULL (the views use outer joins), which only a comparison of contents notices.
    const contents = (sql: Sql) =>
      sql.unsafe(
        `select v.org_id, count(*)::int as n, md5(string_agg(v::text, E'\\n' order by v::text)) as digest
         from hookledger_audit.${name} v where v.org_id = any($1::uuid[]) group by 1 order by 1`,
        [orgs],
      );
    const seen = await contents(dba);
    expect(seen.map((r) => r.org_id).sort()).toEqual([...orgs].sort());
    expect(seen).toEqual(await contents(db.owner));
  });

  it("sees ledger data without token hashes or custom header values", async () => {
    const rows = await dba<any[]>`select type, data from hookledger_audit.event_log where org_id in (${s.a.orgId}, ${s.b.orgId})`;
    const tokens = rows.filter((r) => r.type === "token.created");
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    for (const token of tokens) expect(token.data).not.toHaveProperty("token_sha256");
    const text = JSON.stringify(rows);
    expect(text).not.toContain(s.a.headerCredential);
    expect(text).not.toContain(s.b.headerCredential);
    expect(rows.find((r) => r.type === "subscription.created" && r.data.headers?.length)?.data.headers).toEqual(["authorization"]);
  });

  it("cannot read signing secrets, token hashes, raw ledger data or custom headers from the tables", async () => {
    await expect(dba`select * from hookledger.subscription_secrets`).rejects.toThrow(/permission denied for table subscription_secrets/);
    await expect(dba`select count(*) from hookledger.subscription_secrets`).rejects.toThrow(/permission denied/);
    await expect(dba`select token_hash from hookledger.api_tokens`).rejects.toThrow(/permission denied for table api_tokens/);
    await expect(dba`select data from hookledger.ledger`).rejects.toThrow(/permission denied for table ledger/);
    await expect(dba`select headers from hookledger.subscriptions`).rejects.toThrow(/permission denied for table subscriptions/);
    // Setting a tenant does not open anything either: privileges are checked before row-level security.
    await expect(dba.begin(async (tx) => {
      await tx`select set_config('hookledger.org_id', ${s.a.orgId}, true)`;
      return tx`select * from hookledger.subscription_secrets`;
    })).rejects.toThrow(/permission denied/);
  });

  it.each(AUDIT_VIEWS)("cannot insert into, update or delete from %s", async (name) => {
    const [column] = await db.owner<{ name: string }[]>`
      select attname as name from pg_attribute where attrelid = ${`hookledger_audit.${name}`}::regclass and attnum = 1`;
    // Views over one table (event_log, audit_log) are auto-updatable, so only the missing privilege stops a write;
    // on join and aggregate views PostgreSQL refuses the write as non-updatable before checking privileges.
    const refused = /permission denied for view|cannot (insert into|update|delete from) view/;
    await expect(dba.unsafe(`insert into hookledger_audit.${name} default values`)).rejects.toThrow(refused);
    await expect(dba.unsafe(`update hookledger_audit.${name} set ${column!.name} = ${column!.name}`)).rejects.toThrow(refused);
    await expect(dba.unsafe(`delete from hookledger_audit.${name}`)).rejects.toThrow(refused);
    const [privileges] = await dba.unsafe(`select has_table_privilege('hookledger_audit.${name}', 'INSERT') or has_table_privilege('hookledger_audit.${name}', 'UPDATE')
                                                 or has_table_privilege('hookledger_audit.${name}', 'DELETE') as can_write`);
    expect(privileges?.can_write).toBe(false);
  });

  it("the single-table views refuse writes for lack of privilege", async () => {
    await expect(dba`delete from hookledger_audit.event_log`).rejects.toThrow(/permission denied for view event_log/);
    await expect(dba`update hookledger_audit.audit_log set type = type`).rejects.toThrow(/permission denied for view audit_log/);
  });

  it("cannot insert, update, delete or truncate any table", async () => {
    const tables = await tenantTables();
    expect(tables).toEqual(expect.arrayContaining(["ledger", "subscriptions", "deliveries", "delivery_attempts", "api_tokens", "subscription_secrets"]));
    for (const table of tables) {
      for (const statement of [
        `insert into hookledger.${table} default values`,
        `update hookledger.${table} set org_id = org_id`,
        `delete from hookledger.${table}`,
        `truncate hookledger.${table}`,
      ]) {
        await expect(dba.unsafe(statement), statement).rejects.toThrow(/permission denied/);
      }
    }
  });

  it("cannot append to the ledger, enqueue jobs or create objects", async () => {
    await expect(dba`select hookledger.append_entries('{}', '{}', '{}', '[]')`).rejects.toThrow(/permission denied for function append_entries/);
    await expect(dba`select hookledger.enqueue_jobs('[]')`).rejects.toThrow(/permission denied for function enqueue_jobs/);
    for (const fn of ["insert_deliver_jobs", "insert_publish_jobs"]) {
      await expect(dba.unsafe(`select hookledger.${fn}('[]')`)).rejects.toThrow(new RegExp(`permission denied for function ${fn}`));
    }
    await expect(dba`select hookledger.insert_fanout_jobs('{}', 32, 0, 5)`).rejects.toThrow(/permission denied for function insert_fanout_jobs/);
    await expect(dba`select graphile_worker.add_job('x')`).rejects.toThrow(/permission denied for schema graphile_worker/);
    for (const schema of ["hookledger_audit", "hookledger", "public"]) {
      await expect(dba.unsafe(`create table ${schema}.dba_scratch (n int)`)).rejects.toThrow(/permission denied for schema/);
    }
    await expect(dba.unsafe(`create view hookledger_audit.dba_view as select 1 as n`)).rejects.toThrow(/permission denied for schema/);
  });

  it("reads endpoint URLs with every query value redacted, never the URL column itself", async () => {
    const query = "api_key=K1-url-secret&tenant=acme&access_token=K2-url-secret&X-Amz-Signature=K3-url-secret&sig=K4-url-secret&keyboard=visible";
    const created = await app.call("POST", "/v1/subscriptions", s.a.token, { app_id: s.a.appId, url: `http://127.0.0.1:9/hook?${query}`, event_types: ["invoice.paid"] });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    // The tenant reads its own URL whole, as it gave it.
    expect((await app.call("GET", `/v1/subscriptions/${id}`, s.a.token)).body.url).toBe(`http://127.0.0.1:9/hook?${query}`);
    expect((await app.call("POST", `/v1/subscriptions/${id}/secret/rotate`, s.a.token, {})).status).toBe(200);
    await db.owner`update hookledger.subscriptions set consecutive_failures = 1, failing_since = now() where subscription_id = ${id}`;

    const redacted = "http://127.0.0.1:9/hook?api_key=[redacted]&tenant=[redacted]&access_token=[redacted]&X-Amz-Signature=[redacted]&sig=[redacted]&keyboard=[redacted]";
    const [failing] = await dba`select url from hookledger_audit.failing_endpoints where subscription_id = ${id}`;
    expect(failing?.url).toBe(redacted);
    const rotations = await dba`select subscription_url from hookledger_audit.secret_rotations where subscription_id = ${id}`;
    expect(rotations.map((row) => row.subscription_url)).toEqual([redacted]);
    const [entry] = await dba`select data from hookledger_audit.event_log where stream = ${`subscription:${id}`} and type = 'subscription.created'`;
    expect(entry?.data.url).toBe(redacted);
    const seen = JSON.stringify(await dba`select * from hookledger_audit.event_log where stream = ${`subscription:${id}`}`);
    expect(seen).not.toMatch(/url-secret/);
    await expect(dba`select url from hookledger.subscriptions where subscription_id = ${id}`).rejects.toThrow(/permission denied/);
  });

  it("reads a parameter redacted when its name is percent-escaped or follows a ';', in the query or the path", async () => {
    // `t%6Fken` is `token` to a receiver that decodes names; `;` separates parameters for servlet containers.
    const url = "http://127.0.0.1:9/hook;jsessionid=P1-url-secret?t%6Fken=P2-url-secret&tenant=acme;api_key=P3-url-secret&x%20y=P4-url-secret&page=2";
    const created = await app.call("POST", "/v1/subscriptions", s.a.token, { app_id: s.a.appId, url, event_types: ["invoice.paid"] });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    expect((await app.call("GET", `/v1/subscriptions/${id}`, s.a.token)).body.url).toBe(url);
    await db.owner`update hookledger.subscriptions set consecutive_failures = 1, failing_since = now() where subscription_id = ${id}`;

    const redacted = "http://127.0.0.1:9/hook;jsessionid=[redacted]?t%6Fken=[redacted]&tenant=[redacted];api_key=[redacted]&x%20y=[redacted]&page=[redacted]";
    const [failing] = await dba`select url from hookledger_audit.failing_endpoints where subscription_id = ${id}`;
    expect(failing?.url).toBe(redacted);
    const [entry] = await dba`select data from hookledger_audit.event_log where stream = ${`subscription:${id}`} and type = 'subscription.created'`;
    expect(entry?.data.url).toBe(redacted);
    const audit = await app.call("GET", "/v1/audit-log?type=subscription.created", s.a.token);
    expect(JSON.stringify(audit.body)).not.toMatch(/url-secret/);
  });
});
