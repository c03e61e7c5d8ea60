/**
 * Behind trusted proxies (`HOOKLEDGER_TRUST_PROXY`), the client's address is the X-Forwarded-For entry the
 * front-most trusted proxy appended, never one the client wrote itself: proxies append to what the client sent, so
 * the list's left end is the client's choice. Taking it let a sender pass a forward-auth address check, open
 * loopback-only /metrics and escape the per-address rate limit (sweep 17). Forward auth gets the forwarding
 * headers from us only.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { clientAddressOf, forwardedProto } from "../../src/http/forwarded.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { inboundTenant, postWebhook } from "../inbound/setup.ts";

describe("the client's address", () => {
  it("is the entry the front-most trusted proxy appended", () => {
    // One proxy: it appended the address it saw (203.0.113.9) to what the client wrote.
    expect(clientAddressOf("127.0.0.1, 203.0.113.9", "10.0.0.2", 1)).toBe("203.0.113.9");
    expect(clientAddressOf("192.30.252.1,203.0.113.9", "10.0.0.2", 1)).toBe("203.0.113.9");
    // Several header lines arrive joined with commas.
    expect(clientAddressOf("1.1.1.1, 2.2.2.2, 203.0.113.9", "10.0.0.2", 1)).toBe("203.0.113.9");
    // Two proxies: the CDN appended the client, the load balancer appended the CDN.
    expect(clientAddressOf("127.0.0.1, 198.51.100.7, 192.0.2.10", "10.0.0.2", 2)).toBe("198.51.100.7");
    // Fewer entries than proxies: the left-most (every one was written by a trusted proxy).
    expect(clientAddressOf("198.51.100.7", "10.0.0.2", 2)).toBe("198.51.100.7");
    // Ports and brackets as proxies write them.
    expect(clientAddressOf("203.0.113.9:4711", "10.0.0.2", 1)).toBe("203.0.113.9");
    expect(clientAddressOf("[2001:db8::1]:4711", "10.0.0.2", 1)).toBe("2001:db8::1");
    expect(clientAddressOf("2001:db8::1", "10.0.0.2", 1)).toBe("2001:db8::1");
  });

  it("is the socket's without trusted proxies, without the header, or when the trusted entry is not an address", () => {
    expect(clientAddressOf("127.0.0.1", "203.0.113.9", 0)).toBe("203.0.113.9");
    expect(clientAddressOf(undefined, "203.0.113.9", 1)).toBe("203.0.113.9");
    expect(clientAddressOf(" , ,", "203.0.113.9", 1)).toBe("203.0.113.9");
    for (const odd of ["unknown", "_hidden", "127.0.0.1 extra", "999.1.1.1", "[127.0.0.1]", "a".repeat(5000), "127.0.0.1\u0000"]) {
      expect(clientAddressOf(`127.0.0.1, ${odd}`, "203.0.113.9", 1)).toBe("203.0.113.9");
    }
  });

  it("says the scheme the trusted proxies say", () => {
    expect(forwardedProto("https", 1)).toBe("https");
    expect(forwardedProto("https, http", 1)).toBe("http");
    expect(forwardedProto("HTTPS", 1)).toBe("https");
    expect(forwardedProto("https", 0)).toBeUndefined();
  });

  it("takes HOOKLEDGER_TRUST_PROXY as true, false or the number of proxies in front", () => {
    expect(loadConfig({}).HOOKLEDGER_TRUST_PROXY).toBe(0);
    expect(loadConfig({ HOOKLEDGER_TRUST_PROXY: "true" }).HOOKLEDGER_TRUST_PROXY).toBe(1);
    expect(loadConfig({ HOOKLEDGER_TRUST_PROXY: " 2 " }).HOOKLEDGER_TRUST_PROXY).toBe(2);
    expect(loadConfig({ HOOKLEDGER_TRUST_PROXY: "off" }).HOOKLEDGER_TRUST_PROXY).toBe(0);
    for (const bad of ["maybe", "-1", "11", "1.5"]) expect(() => loadConfig({ HOOKLEDGER_TRUST_PROXY: bad })).toThrow(ConfigError);
  });
});

describe("behind one trusted proxy", () => {
  let db: TestDatabase;
  let app: TestApp;
  let limited: TestApp;
  let receiver: Receiver;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db, { env: { HOOKLEDGER_TRUST_PROXY: "true" } });
    limited = await startTestApp(db, { env: { HOOKLEDGER_TRUST_PROXY: "true", HOOKLEDGER_RATE_LIMIT_IP_RPS: "1", HOOKLEDGER_RATE_LIMIT_IP_BURST: "5" } });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await app?.stop();
    await limited?.stop();
    await receiver?.close();
    await db?.drop();
  });

  /** A request as the proxy passes it on: what the client wrote, then the address the proxy saw. */
  const viaProxy = (clientWrote: string, proxySaw: string) => ({ "x-forwarded-for": `${clientWrote}, ${proxySaw}` });

  it("keeps /metrics closed to a client that writes a loopback address", async () => {
    expect((await app.fetch("/metrics", { headers: viaProxy("127.0.0.1", "203.0.113.9") })).status).toBe(403);
    expect((await app.fetch("/metrics", { headers: viaProxy("::1", "203.0.113.10") })).status).toBe(403);
    // A client the proxy saw on loopback is one.
    expect((await app.fetch("/metrics", { headers: { "x-forwarded-for": "127.0.0.1" } })).status).toBe(200);
  });

  it("limits a client by the address the proxy saw, whatever it writes", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await limited.fetch("/v1/applications", { headers: viaProxy(`198.51.100.${i}`, "203.0.113.77") })).status);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(6);
    // Another client behind the same proxy has its own budget.
    expect((await limited.fetch("/v1/applications", { headers: viaProxy("198.51.100.1", "203.0.113.78") })).status).toBe(401);
  });

  it("limits an IPv6 client by its /64: each address of its network is the same client", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await limited.fetch("/v1/applications", { headers: { "x-forwarded-for": `2001:db8:77:1::${(i + 1).toString(16)}` } })).status);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(6);
    // Another /64, and IPv4 clients written IPv4-mapped, are other clients.
    expect((await limited.fetch("/v1/applications", { headers: { "x-forwarded-for": "2001:db8:77:2::1" } })).status).toBe(401);
    expect((await limited.fetch("/v1/applications", { headers: { "x-forwarded-for": "::ffff:198.51.100.201" } })).status).toBe(401);
    expect((await limited.fetch("/v1/applications", { headers: { "x-forwarded-for": "::ffff:198.51.100.202" } })).status).toBe(401);
  });

  it("tells forward auth the address the proxy saw, and none of the sender's forwarding headers", async () => {
    const t = await inboundTenant(app);
    receiver.respond("/allow-by-address", { status: 204 });
    const route = await t.createRoute({ auth: { type: "forward", url: receiver.url("/allow-by-address"), timeout_ms: 2000 } });
    const sent = await postWebhook(app, route.id, "{}", {
      ...viaProxy("192.30.252.1", "203.0.113.50"),
      "x-real-ip": "192.30.252.1",
      forwarded: "for=192.30.252.1;proto=https",
      "x-forwarded-host": "github.com",
      "x-forwarded-proto": "https",
      "x-forwarded-port": "443",
      "x-forwarded-uri": "/elsewhere",
    });
    expect(sent.status).toBe(202);
    const [check] = await receiver.waitFor(1, "/allow-by-address");
    const headers = check!.headers;
    expect(headers["x-forwarded-for"]).toBe("203.0.113.50");
    expect(headers["x-real-ip"]).toBe("203.0.113.50");
    expect(headers["x-forwarded-uri"]).toBe(`/in/${route.id}`);
    expect(headers["x-forwarded-method"]).toBe("POST");
    // The proxy's word on the scheme is the trusted one here (a client behind one proxy cannot add to it).
    expect(headers["x-forwarded-proto"]).toBe("https");
    expect(headers["x-forwarded-host"]).toBe(new URL(app.baseUrl).host);
    expect(headers).not.toHaveProperty("forwarded");
    expect(headers).not.toHaveProperty("x-forwarded-port");
  });
});
