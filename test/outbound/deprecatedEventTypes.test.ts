/**
 * A deprecated event type keeps working (Svix's meaning of the flag): its events are accepted and fanned out, each
 * 202 warns the producer, and listings can leave it out.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { outboundTenant } from "./setup.ts";

let db: TestDatabase;
let app: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
});
afterAll(async () => {
  await app?.stop();
  await db.drop();
});

describe("deprecated event types", () => {
  it("still take events, warn on each 202, and are left out of listings on request", async () => {
    const t = await outboundTenant(app, ["invoice.paid", "invoice.legacy"]);
    await t.subscribe({ url: "http://127.0.0.1:9/hook", event_types: ["*"] });
    const patched = await app.call("PATCH", `/v1/applications/${t.appId}/event-types/invoice.legacy`, t.token, { deprecated: true });
    expect(patched.status).toBe(200);
    expect(patched.body.deprecated).toBe(true);

    const legacy = await t.send({ event_type: "invoice.legacy", event_id: "evt_legacy" });
    expect(legacy.status).toBe(202);
    expect(legacy.body.deliveries_scheduled).toBe(1);
    expect(legacy.headers.get("warning")).toBe('299 hookledger "event type invoice.legacy is deprecated"');
    const current = await t.send({ event_type: "invoice.paid", event_id: "evt_current" });
    expect(current.status).toBe(202);
    expect(current.headers.get("warning")).toBeNull();

    const names = async (query: string) =>
      ((await app.call("GET", `/v1/applications/${t.appId}/event-types${query}`, t.token)).body.data as { name: string }[]).map((row) => row.name).sort();
    expect(await names("")).toEqual(["invoice.legacy", "invoice.paid"]);
    expect(await names("?include_deprecated=true")).toEqual(["invoice.legacy", "invoice.paid"]);
    expect(await names("?include_deprecated=false")).toEqual(["invoice.paid"]);
    expect((await app.call("GET", `/v1/applications/${t.appId}/event-types?include_deprecated=yes`, t.token)).status).toBe(400);

    // Undeprecated, it no longer warns.
    expect((await app.call("PATCH", `/v1/applications/${t.appId}/event-types/invoice.legacy`, t.token, { deprecated: false })).status).toBe(200);
    const again = await t.send({ event_type: "invoice.legacy", event_id: "evt_legacy_2" });
    expect(again.status).toBe(202);
    expect(again.headers.get("warning")).toBeNull();
  });
});
