/**
 * The console runs the API's rules for inbound data. An application token gets 403 on the organization's ingress
 * routes and pull queues (the API's answer), and a token limited to some queues sees those alone — in the
 * console, and in the queue settings routes as in the pull routes. Before, an application token signed in to the
 * console listed every ingress route and read dead-lettered webhook bodies, and a queue-limited token read every
 * queue's dead letters there.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { consoleSession } from "../support/consoleSession.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { inboundTenant, postWebhook } from "../inbound/setup.ts";

const MARKER = "INBOUND-BODY-MARKER-7f3a";

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof inboundTenant>>;
let routeId: string;

const token = async (body: Record<string, unknown>) => {
  const created = await app.call("POST", "/v1/tokens", t.token, { label: "limited", ...body });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.token as string;
};

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db);
  t = await inboundTenant(app);
  await t.createQueue("first", { max_deliveries: 1 });
  await t.createQueue("second");
  routeId = (await t.createRoute({ auth: { type: "basic", username: "sender" }, secrets: [{ value: "s3cret-password-16" }], queue: "first" })).id;
  const sent = await postWebhook(app, routeId, JSON.stringify({ secret: MARKER }), { Authorization: `Basic ${Buffer.from("sender:s3cret-password-16").toString("base64")}` });
  expect(sent.status).toBe(202);
  // Leased once for a second, then dead-lettered by the next dequeue (max_deliveries 1).
  expect((await app.call("POST", "/v1/pull/first/dequeue", t.token, { max_messages: 1, lease_seconds: 1 })).body.messages).toHaveLength(1);
  await eventually(async () => {
    await app.call("POST", "/v1/pull/first/dequeue", t.token, { max_messages: 1 });
    const [dead] = await db.owner<{ n: number }[]>`select count(*)::int as n from hookledger.pull_messages where queue = 'first' and state = 'dead'`;
    return dead?.n === 1 ? true : undefined;
  }, 10_000, "the message to be dead-lettered");
});
afterAll(async () => {
  await app?.stop();
  await db.drop();
});

describe("console inbound pages", () => {
  it("an organization token sees the routes and the dead letters (the control)", async () => {
    const session = await consoleSession(app, t.token);
    const ingress = await session.get("/console/ingress");
    expect(ingress.status).toBe(200);
    expect(await ingress.text()).toContain(routeId);
    const queues = await (await session.get("/console/queues?queue=first")).text();
    expect(queues).toContain(MARKER);
  });

  it("an application token gets 403 on both, as from the API, and no route or body", async () => {
    const app1 = await app.call("POST", "/v1/applications", t.token, { name: "one" });
    const appToken = await token({ scopes: ["admin"], app_id: app1.body.id });
    expect((await app.call("GET", "/v1/ingress-routes", appToken)).status).toBe(403);
    const session = await consoleSession(app, appToken);
    for (const path of ["/console/ingress", "/console/queues", "/console/queues?queue=first"]) {
      const page = await session.get(path);
      expect(page.status, path).toBe(403);
      const html = await page.text();
      expect(html).not.toContain(routeId);
      expect(html).not.toContain(MARKER);
    }
  });

  it("a token limited to queues sees those alone, in the console and the queue routes", async () => {
    const limited = await token({ scopes: ["ingress:read", "ingress:write", "pull:consume"], queues: ["second"] });
    const session = await consoleSession(app, limited);
    const list = await (await session.get("/console/queues")).text();
    expect(list).toContain("second");
    expect(list).not.toContain("queue=first");
    const chosen = await (await session.get("/console/queues?queue=first")).text();
    expect(chosen).not.toContain(MARKER);
    expect(chosen).not.toContain("Dead letters of first");

    const listed = await app.call("GET", "/v1/pull-queues", limited);
    expect(listed.body.data.map((queue: { name: string }) => queue.name)).toEqual(["second"]);
    expect((await app.call("GET", "/v1/pull-queues/first", limited)).status).toBe(404);
    expect((await app.call("PATCH", "/v1/pull-queues/first", limited, { max_deliveries: 5 })).status).toBe(404);
    expect((await app.call("GET", "/v1/pull/first/dead-letters", limited)).status).toBe(404);
    // Ingress routes feed every queue, and their receipts hold the bodies the other queues hold: 403.
    expect((await session.get("/console/ingress")).status).toBe(403);
    expect(list).not.toContain(`href="/console/ingress"`);
    for (const [method, path] of [["GET", "/v1/ingress-routes"], ["GET", `/v1/ingress-routes/${routeId}`], ["GET", `/v1/ingress-routes/${routeId}/receipts`], ["POST", `/v1/ingress-routes/${routeId}/publish`]] as const) {
      const answer = await app.call(method, path, limited, method === "POST" ? { body: "x" } : undefined);
      expect(answer.status, `${method} ${path}`).toBe(403);
      expect(JSON.stringify(answer.body)).not.toContain(MARKER);
    }
    expect((await app.call("GET", "/v1/pull-queues/second", limited)).status).toBe(200);
    expect((await app.call("PATCH", "/v1/pull-queues/second", limited, { max_deliveries: 5 })).status).toBe(200);
  });
});
