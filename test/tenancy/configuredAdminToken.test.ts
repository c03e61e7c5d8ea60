/**
 * The instance admin token an operator configures (HOOKLEDGER_ADMIN_TOKEN) is checked against the configuration and
 * never stored: not its hash, not its first characters, not a stream name made from its hash (sweep 20, finding 6).
 */
import { createHash } from "node:crypto";
import { cp, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { prepareDatabase } from "../../src/compose/database.ts";
import { connect, serviceUrlFor } from "../../src/db/connect.ts";
import { DEFAULT_MIGRATIONS_DIR } from "../../src/db/migrate.ts";
import { rebuildProjectionForAll } from "../../src/ledger/rebuildAll.ts";
import { createLogger } from "../../src/log.ts";
import { CONFIGURED_ADMIN_TOKEN_ID } from "../../src/tenancy/configuredAdminToken.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createEmptyDatabase, createTestDatabase } from "../support/database.ts";

const SYSTEM_ORG_ID = "00000000-0000-0000-0000-000000000000";
const passphrase = "ADMTOKcorrect-horse-battery-staple-0001";
const other = "OTHERTOKcorrect-horse-battery-staple-0002";
process.env.HL_TEST_CONFIGURED_TOKEN = passphrase;
process.env.HL_TEST_OTHER_CONFIGURED_TOKEN = other;
const configured = { HOOKLEDGER_ADMIN_TOKEN: "env:HL_TEST_CONFIGURED_TOKEN" };
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

async function organizationsAs(app: TestApp, token: string): Promise<number> {
  return (await app.call("GET", "/v1/organizations", token)).status;
}

describe("a configured instance admin token", () => {
  it("is accepted, and neither its hash nor any of its characters is stored anywhere in the database", async () => {
    const db = await createTestDatabase();
    cleanup.push(() => db.drop());
    const app = await startTestApp(db, { env: configured });
    cleanup.push(() => app.stop());
    expect(await organizationsAs(app, passphrase)).toBe(200);
    expect(await organizationsAs(app, `${passphrase.slice(0, -1)}2`)).toBe(401);
    // Created organizations name it as their actor, under its fixed id.
    const created = await app.call("POST", "/v1/organizations", passphrase, { name: "By the configured token" });
    expect(created.status).toBe(201);

    const hash = sha256(passphrase);
    const [ledger] = await db.owner<{ n: number }[]>`
      select count(*)::int as n from hookledger.ledger
      where data::text like ${`%${hash}%`} or data::text like ${"%ADMTOK%"} or stream like ${`%${hash.slice(0, 32)}%`}`;
    expect(ledger?.n).toBe(0);
    const [entry] = await db.owner<{ data: Record<string, unknown>; redacted_data: Record<string, unknown> }[]>`
      select data, redacted_data from hookledger.ledger where type = 'token.created' and data->>'token_id' = ${CONFIGURED_ADMIN_TOKEN_ID}`;
    expect(entry?.data).toEqual(expect.objectContaining({ kind: "instance_admin", token_prefix: "configured" }));
    expect(entry?.data).not.toHaveProperty("token_sha256");
    const tokens = await db.owner<{ token_prefix: string; token_hash: Uint8Array | null }[]>`
      select token_prefix, token_hash from hookledger.api_tokens where org_id = ${SYSTEM_ORG_ID} and token_id = ${CONFIGURED_ADMIN_TOKEN_ID}`;
    expect(tokens).toEqual([{ token_prefix: "configured", token_hash: null }]);
    const [byHash] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.api_tokens where token_hash = decode(${hash}, 'hex')`;
    expect(byHash?.n).toBe(0);
    const [actor] = await db.owner<{ actor_id: string }[]>`
      select actor_id from hookledger.ledger where type = 'organization.created' and data->>'name' = 'By the configured token'`;
    expect(actor?.actor_id).toBe(CONFIGURED_ADMIN_TOKEN_ID);

    // Another process with the same configuration records nothing more; one configured with another value accepts
    // that value and not this one: changing the configuration is how the token is changed.
    const same = await startTestApp(db, { env: configured });
    cleanup.push(() => same.stop());
    expect(await organizationsAs(same, passphrase)).toBe(200);
    const changed = await startTestApp(db, { env: { HOOKLEDGER_ADMIN_TOKEN: "env:HL_TEST_OTHER_CONFIGURED_TOKEN" } });
    cleanup.push(() => changed.stop());
    expect(await organizationsAs(changed, other)).toBe(200);
    expect(await organizationsAs(changed, passphrase)).toBe(401);
    const [registrations] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.ledger where type = 'token.created' and org_id = ${SYSTEM_ORG_ID}`;
    expect(registrations?.n).toBe(1);

    // Without the setting, the instance is not left without a token: the configured one does not count.
    const unconfigured = await startTestApp(db, { env: { HOOKLEDGER_ADMIN_TOKEN: "" } });
    cleanup.push(() => unconfigured.stop());
    expect(unconfigured.newInstanceAdminToken).toMatch(/^hl_adm_/);
    expect(await organizationsAs(unconfigured, unconfigured.newInstanceAdminToken ?? "")).toBe(200);
    expect(await organizationsAs(unconfigured, passphrase)).toBe(401);
  });

  it("registered before this change, keeps working but loses its stored hash and characters (sql/086), on a rebuild too", async () => {
    const empty = await createEmptyDatabase();
    cleanup.push(() => empty.drop());
    // The installation as it was: migrations up to 085, the token registered the old way (what the old code wrote).
    const before = await mkdtemp(path.join(tmpdir(), "hookledger-sql-"));
    cleanup.push(() => rm(before, { recursive: true, force: true }));
    for (const file of await readdir(DEFAULT_MIGRATIONS_DIR)) {
      if (file.endsWith(".sql") && Number(file.slice(0, 3)) < 86) await cp(path.join(DEFAULT_MIGRATIONS_DIR, file), path.join(before, file));
    }
    const log = createLogger("warn");
    await prepareDatabase({ ownerUrl: empty.url, manageServicePassword: true, partitionsAhead: 3, log, migrationsDir: before });
    const owner = connect(empty.url, { max: 1, applicationName: "hookledger-test-owner" });
    cleanup.push(() => owner.end());
    const hash = sha256(passphrase);
    const oldTokenId = "5f0c2a51-8a3c-4f5e-9d0a-2b7c4e1f9a10";
    const oldData = {
      token_id: oldTokenId,
      kind: "instance_admin",
      app_id: null,
      label: "configured (HOOKLEDGER_ADMIN_TOKEN)",
      scopes: ["admin"],
      token_prefix: "ADMTOK…",
      token_sha256: hash,
      expires_at: null,
    };
    await owner.begin(async (tx) => {
      await tx`select set_config('hookledger.org_id', ${SYSTEM_ORG_ID}, true)`;
      const stream = `instance:admin-token:${hash.slice(0, 32)}`;
      await tx`insert into hookledger.ledger (org_id, stream, version, type, data, meta) values (${SYSTEM_ORG_ID}, ${stream}, 1, 'token.created', ${tx.json(oldData)}, ${tx.json({ actor: { kind: "system" } })})`;
      await tx`insert into hookledger.ledger_streams (org_id, stream, version) values (${SYSTEM_ORG_ID}, ${stream}, 1)`;
      await tx`insert into hookledger.api_tokens (org_id, token_id, kind, app_id, label, scopes, token_prefix, token_hash, created_at)
               values (${SYSTEM_ORG_ID}, ${oldTokenId}, 'instance_admin', null, ${oldData.label}, ${oldData.scopes}, ${oldData.token_prefix}, decode(${hash}, 'hex'), now())`;
    });

    await prepareDatabase({ ownerUrl: empty.url, manageServicePassword: true, partitionsAhead: 3, log });
    const rowsOf = () => owner<{ token_id: string; token_prefix: string; token_hash: Uint8Array | null }[]>`
      select token_id, token_prefix, token_hash from hookledger.api_tokens where org_id = ${SYSTEM_ORG_ID} order by token_id`;
    expect(await rowsOf()).toEqual([{ token_id: oldTokenId, token_prefix: "configured", token_hash: null }]);
    // What auditors read shows the marker; the append-only entry itself keeps what the old code wrote.
    const [entry] = await owner<{ data: Record<string, unknown>; redacted_data: Record<string, unknown> }[]>`
      select data, redacted_data from hookledger.ledger where type = 'token.created' and data->>'token_id' = ${oldTokenId}`;
    expect(entry?.redacted_data).toEqual(expect.objectContaining({ token_prefix: "configured" }));
    expect(JSON.stringify(entry?.redacted_data)).not.toContain(hash);
    expect(entry?.data).toEqual(expect.objectContaining({ token_prefix: "ADMTOK…", token_sha256: hash }));

    const app = await startTestApp({ name: empty.name, ownerUrl: empty.url, serviceUrl: serviceUrlFor(empty.url) }, { env: configured });
    cleanup.push(() => app.stop());
    expect(await organizationsAs(app, passphrase)).toBe(200);
    const live = await rowsOf();
    expect(live.map((row) => [row.token_id, row.token_prefix, row.token_hash])).toEqual(
      [[oldTokenId, "configured", null], [CONFIGURED_ADMIN_TOKEN_ID, "configured", null]].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    await rebuildProjectionForAll(app.ctx, "api_tokens");
    expect(await rowsOf()).toEqual(live);
    expect(await organizationsAs(app, passphrase)).toBe(200);
  });
});
