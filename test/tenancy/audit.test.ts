import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
let app: TestApp;
let strict: TestApp;
let tenant: { orgId: string; token: string; tokenId: string };

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  strict = await startTestApp(db, { env: { HOOKLEDGER_REQUIRE_AUDIT_REASON: "true" } });
  tenant = await createTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await strict?.stop();
  await db.drop();
});

/** POST /v1/applications over a raw socket, with header values given as the bytes they are (fetch refuses some). */
function postWithRawHeaders(token: string, body: object, headers: Record<string, Buffer>): Promise<{ status: number; body: { id?: string; errors?: unknown } }> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(app.baseUrl).port), "127.0.0.1");
    const text = JSON.stringify(body);
    const chunks: Buffer[] = [];
    socket.on("connect", () => {
      const head = [`POST /v1/applications HTTP/1.1`, "Host: 127.0.0.1", `Authorization: Bearer ${token}`, "Content-Type: application/json", `Content-Length: ${Buffer.byteLength(text)}`, "Connection: close"];
      const lines = [Buffer.from(head.join("\r\n")), ...Object.entries(headers).map(([name, value]) => Buffer.concat([Buffer.from(`\r\n${name}: `), value]))];
      socket.write(Buffer.concat([...lines, Buffer.from(`\r\n\r\n${text}`)]));
    });
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const received = Buffer.concat(chunks).toString("utf8");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1]);
      const json = received.slice(received.indexOf("\r\n\r\n") + 4);
      resolve({ status, body: json.startsWith("{") ? JSON.parse(json) : {} });
    });
  });
}

describe("audit trail", () => {
  it("records actor, request id, client IP, user agent and reason with every mutation", async () => {
    const created = await app.call("POST", "/v1/applications", tenant.token, { name: "audited" }, {
      "X-Request-ID": "audit-test-0001",
      "User-Agent": "audit-suite/1.0",
      "X-Audit-Reason": "JIRA-42 onboarding",
    });
    expect(created.headers.get("x-request-id")).toBe("audit-test-0001");
    const log = await app.call("GET", "/v1/audit-log?type=application.created", tenant.token);
    expect(log.status).toBe(200);
    expect(log.body.data[0]).toMatchObject({
      type: "application.created",
      stream: `application:${created.body.id}`,
      actor: { kind: "token", id: tenant.tokenId, label: "Acme admin" },
      request_id: "audit-test-0001",
      ip: "127.0.0.1",
      user_agent: "audit-suite/1.0",
      reason: "JIRA-42 onboarding",
    });
  });

  // Header values travel as bytes, handed over one Latin-1 character per byte: a UTF-8 "café" arrives as "cafÃ©",
  // a user agent's UTF-8 U+009B (CSI, a terminal's escape) as "Â" and U+009B itself.
  it("reads a UTF-8 reason as UTF-8, and records a user agent without controls or bidirectional overrides", async () => {
    const utf8 = (text: string) => Buffer.from(text, "utf8");
    const created = await postWithRawHeaders(tenant.token, { name: "bytes" }, {
      "User-Agent": utf8("ua\u009b31m \u202eevil café 😀"),
      "X-Audit-Reason": utf8("café “closed” €5"),
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const [entry] = await db.owner<{ user_agent: string; reason: string }[]>`
      select meta->>'user_agent' as user_agent, meta->>'reason' as reason from hookledger.ledger
      where org_id = ${tenant.orgId} and stream = ${`application:${created.body.id}`}`;
    expect(entry).toEqual({ user_agent: "ua\uFFFD31m \uFFFDevil café 😀", reason: "café “closed” €5" });
    // Bytes that are not UTF-8 are kept as they came, their C1 controls replaced.
    const latin1 = await postWithRawHeaders(tenant.token, { name: "latin1" }, { "User-Agent": Buffer.from([0x75, 0x61, 0xe9, 0x9b]) });
    const [kept] = await db.owner<{ user_agent: string }[]>`
      select meta->>'user_agent' as user_agent from hookledger.ledger where org_id = ${tenant.orgId} and stream = ${`application:${latin1.body.id}`}`;
    expect(kept?.user_agent).toBe("ua\u00e9\uFFFD");
    // A user agent cut at 512 characters is cut between characters, never inside one.
    const long = await postWithRawHeaders(tenant.token, { name: "long agent" }, { "User-Agent": utf8(`a${"😀".repeat(400)}`) });
    expect(long.status).toBe(201);
    const [cut] = await db.owner<{ user_agent: string }[]>`
      select meta->>'user_agent' as user_agent from hookledger.ledger where org_id = ${tenant.orgId} and stream = ${`application:${long.body.id}`}`;
    expect(cut?.user_agent).toBe(`a${"😀".repeat(255)}`);
    // A bidirectional override sent as UTF-8 in a reason is refused by its own name.
    const refused = await postWithRawHeaders(tenant.token, { name: "bidi" }, { "X-Audit-Reason": utf8("fixed\u202edecnarc") });
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([{ field: "header.X-Audit-Reason", message: expect.stringContaining("U+202E") }]);
  });

  it("filters by actor, type and time, and pages with a cursor", async () => {
    const other = await app.call("POST", "/v1/tokens", tenant.token, { label: "second admin", scopes: ["admin"] });
    const start = new Date();
    for (let i = 0; i < 5; i++) {
      const created = await app.call("POST", "/v1/applications", other.body.token, { name: `app ${i}` });
      expect(created.status).toBe(201);
    }
    const byActor = await app.call("GET", `/v1/audit-log?actor=${other.body.id}&limit=2`, tenant.token);
    expect(byActor.body.data).toHaveLength(2);
    expect(byActor.body.data.every((e: { actor: { id: string } }) => e.actor.id === other.body.id)).toBe(true);
    const seen = [...byActor.body.data];
    let cursor = byActor.body.next_cursor;
    while (cursor) {
      const next = await app.call("GET", `/v1/audit-log?actor=${other.body.id}&limit=2&after=${cursor}`, tenant.token);
      seen.push(...next.body.data);
      cursor = next.body.next_cursor;
    }
    expect(seen.map((e) => e.data.name)).toEqual(["app 4", "app 3", "app 2", "app 1", "app 0"]);
    const since = await app.call("GET", `/v1/audit-log?since=${encodeURIComponent(start.toISOString())}&type=application.created`, tenant.token);
    expect(since.body.data).toHaveLength(5);
    const until = await app.call("GET", `/v1/audit-log?until=${encodeURIComponent(start.toISOString())}&type=application.created`, tenant.token);
    expect(until.body.data.some((e: { data: { name: string } }) => e.data.name.startsWith("app "))).toBe(false);
  });

  it("stops a page at 2 MB of entry data and pages on through every entry, newest first", async () => {
    // Event types whose schemas carry ~700 KB each (a description inside the schema): three make 2.1 MB.
    const application = await app.call("POST", "/v1/applications", tenant.token, { name: "wide audit" });
    const names: string[] = [];
    for (let i = 0; i < 5; i++) {
      const name = `wide.audit${i}`;
      const schema = { type: "object", description: String(i).repeat(700 * 1024) };
      const created = await app.call("POST", `/v1/applications/${application.body.id}/event-types`, tenant.token, { name, schema });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      names.push(name);
    }
    const pages: { data: { name: string; schema: { description: string } } }[][] = [];
    let after: string | null = null;
    do {
      const res = await app.call("GET", `/v1/audit-log?type=event_type.created&limit=100${after ? `&after=${after}` : ""}`, tenant.token);
      expect(res.status).toBe(200);
      pages.push(res.body.data);
      after = res.body.next_cursor;
    } while (after !== null && pages.length < 10);
    const seen = pages.map((page) => page.map((entry) => entry.data.name));
    expect(seen).toEqual([[names[4], names[3]], [names[2], names[1]], [names[0]]]);
    for (const entry of pages.flat()) expect(entry.data.schema.description).toBe(entry.data.name.slice(-1).repeat(700 * 1024));
  });

  it("never shows tokens or their hashes", async () => {
    const created = await app.call("POST", "/v1/tokens", tenant.token, { label: "hidden", scopes: ["events:read"] });
    const log = await app.call("GET", "/v1/audit-log?type=token.created", tenant.token);
    const text = JSON.stringify(log.body);
    expect(text).not.toContain(created.body.token);
    expect(text).not.toContain("token_sha256");
  });

  it("refuses malformed filters", async () => {
    const bad = await app.call("GET", "/v1/audit-log?actor=me&since=yesterday&limit=0&after=garbage", tenant.token);
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(["query.actor", "query.limit", "query.since"]);
    const badCursor = await app.call("GET", "/v1/audit-log?after=garbage", tenant.token);
    expect(badCursor.body.errors).toEqual([{ field: "query.after", message: "expected a cursor from a previous page's next_cursor" }]);
  });

  it("can require a reason for deletes and token operations", async () => {
    const appCreated = await strict.call("POST", "/v1/applications", tenant.token, { name: "needs reason" });
    expect(appCreated.status).toBe(201);
    const noReason = await strict.call("DELETE", `/v1/applications/${appCreated.body.id}`, tenant.token);
    expect(noReason.status).toBe(400);
    expect(noReason.body.errors).toEqual([{ field: "header.X-Audit-Reason", message: expect.stringContaining("HOOKLEDGER_REQUIRE_AUDIT_REASON") }]);
    expect((await strict.call("POST", "/v1/tokens", tenant.token, { label: "t", scopes: ["admin"] })).status).toBe(400);
    const withReason = await strict.call("DELETE", `/v1/applications/${appCreated.body.id}`, tenant.token, undefined, { "X-Audit-Reason": "decommissioned" });
    expect(withReason.status).toBe(204);
  });
});
