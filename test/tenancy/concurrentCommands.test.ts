/**
 * Commands on one application, organization or token sent at the same time are decided one after another, as if
 * sent in turn: one DELETE of twenty succeeds and records one entry, the rest answer the 404 a later DELETE gets;
 * twenty revocations record one `token.revoked`; twenty creates under an application quota of 2 create two.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applicationStream } from "../../src/tenancy/applications.ts";
import { organizationStream } from "../../src/tenancy/organizations.ts";
import { tokenStream } from "../../src/tenancy/tokens.ts";
import { createTenant, startTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { allAtOnce, countEntries, statuses, streamEntries } from "../outbound/allAtOnce.ts";
import { outboundTenant } from "../outbound/setup.ts";

let db: TestDatabase;
let app: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

const times = <T>(n: number, make: (i: number) => Promise<T>) => Array.from({ length: n }, (_, i) => make(i));

describe("concurrent tenancy commands", () => {
  it("deletes an application once when twenty DELETEs arrive together", async () => {
    const t = await outboundTenant(app, ["invoice.paid"]);
    await t.subscribe({ url: "http://127.0.0.1:9/a" });
    const stream = applicationStream(t.appId);
    const answers = await allAtOnce(db, { kind: "stream", orgId: t.orgId, stream }, () => times(20, () => app.call("DELETE", `/v1/applications/${t.appId}`, t.token)));
    expect(statuses(answers)).toEqual([204, ...Array(19).fill(404)]);
    expect((await streamEntries(db, t.orgId, stream)).filter((type) => type === "application.deleted")).toHaveLength(1);
  });

  it("records no change after application.deleted when PATCHes race a DELETE", async () => {
    const t = await outboundTenant(app, []);
    const stream = applicationStream(t.appId);
    const answers = await allAtOnce(db, { kind: "stream", orgId: t.orgId, stream }, () => times(10, (i) => app.call("PATCH", `/v1/applications/${t.appId}`, t.token, { description: `change ${i}` })), {
      first: () => app.call("DELETE", `/v1/applications/${t.appId}`, t.token),
    });
    // The DELETE was first in line: every PATCH waited for it, found the resource gone and recorded nothing.
    expect(statuses(answers)).toEqual([204, ...Array(10).fill(404)]);
    const entries = await streamEntries(db, t.orgId, stream);
    expect(entries.at(-1)).toBe("application.deleted");
    expect(entries.filter((type) => type === "application.updated")).toHaveLength(answers.slice(1).filter((a) => a.status === 200).length);
  });

  it("deletes an organization once when twenty DELETEs arrive together", async () => {
    const t = await createTenant(app);
    const stream = organizationStream(t.orgId);
    const answers = await allAtOnce(db, { kind: "stream", orgId: t.orgId, stream }, () => times(20, () => app.call("DELETE", `/v1/organizations/${t.orgId}`, TEST_ADMIN_TOKEN)));
    expect(statuses(answers)).toEqual([204, ...Array(19).fill(404)]);
    expect(await streamEntries(db, t.orgId, stream)).toEqual(["organization.created", "organization.deleted"]);
  });

  it("records no change after organization.deleted when PATCHes race a DELETE", async () => {
    const t = await createTenant(app);
    const stream = organizationStream(t.orgId);
    const answers = await allAtOnce(db, { kind: "stream", orgId: t.orgId, stream }, () => times(10, (i) => app.call("PATCH", `/v1/organizations/${t.orgId}`, TEST_ADMIN_TOKEN, { name: `Acme ${i}` })), {
      first: () => app.call("DELETE", `/v1/organizations/${t.orgId}`, TEST_ADMIN_TOKEN),
    });
    // The DELETE was first in line: every PATCH waited for it, found the resource gone and recorded nothing.
    expect(statuses(answers)).toEqual([204, ...Array(10).fill(404)]);
    const entries = await streamEntries(db, t.orgId, stream);
    expect(entries.at(-1)).toBe("organization.deleted");
    expect(entries.filter((type) => type === "organization.updated")).toHaveLength(answers.slice(1).filter((a) => a.status === 200).length);
  });

  it("records one token.revoked when twenty revocations arrive together, answering each as a later one", async () => {
    const t = await createTenant(app);
    const token = await app.call("POST", "/v1/tokens", t.token, { label: "to revoke", scopes: ["events:read"] });
    const answers = await allAtOnce(db, { kind: "stream", orgId: t.orgId, stream: tokenStream(token.body.id) }, () =>
      times(20, () => app.call("DELETE", `/v1/tokens/${token.body.id}`, t.token)),
    );
    expect(statuses(answers)).toEqual(Array(20).fill(200));
    const revokedAt = new Set(answers.map((answer) => answer.body.revoked_at));
    expect(revokedAt.size).toBe(1);
    expect([...revokedAt][0]).toEqual(expect.any(String));
    expect(await countEntries(db, t.orgId, "token.revoked")).toBe(1);
  });

  it("keeps the applications quota when twenty creates arrive together", async () => {
    const t = await createTenant(app);
    expect((await app.call("PATCH", `/v1/organizations/${t.orgId}`, TEST_ADMIN_TOKEN, { quotas: { applications: 2 } })).status).toBe(200);
    const answers = await allAtOnce(db, { kind: "fanout", orgId: t.orgId }, () => times(20, (i) => app.call("POST", "/v1/applications", t.token, { name: `app ${i}` })));
    expect(statuses(answers)).toEqual([201, 201, ...Array(18).fill(403)]);
    expect(await countEntries(db, t.orgId, "application.created")).toBe(2);
  });
});
