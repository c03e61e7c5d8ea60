/** Sending through the egress client: pinning, refusals, DNS rebinding and redirects, against loopback servers only. */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEgressClient } from "../../src/egress/client.ts";
import { EgressRuleError } from "../../src/egress/rules.ts";
import { loopbackPolicy, scriptedResolver, startTestServer, v4, type TestServer } from "./support.ts";

let server: TestServer;
let base: string;

beforeAll(async () => {
  server = await startTestServer();
  base = `http://hooks.invalid:${server.port}`;
});
afterAll(() => server.close());

/** `.invalid` never resolves (RFC 6761): a request that arrives proves the HTTP stack did not look it up itself. */
const loopback = () => scriptedResolver(v4("127.0.0.1"));

/** What a delivery carries that only its configured endpoint may see: a tenant's custom header and the signatures. */
const credentialHeaders: Record<string, string> = {
  "content-type": "application/json",
  "x-api-key": "tenant-secret-key",
  authorization: "Bearer tenant-token",
  "webhook-id": "msg_2mXo1",
  "webhook-timestamp": "1700000000",
  "webhook-signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
  "x-hookledger-signature": "t=1700000000,h=content-type,v1=abc",
};

describe("sending to a loopback server (allowLoopback, http)", () => {
  it("returns status, headers, body and the pinned address, resolving once", async () => {
    const { resolver, calls } = loopback();
    const egress = createEgressClient(loopbackPolicy, { resolver });
    const result = await egress.send({ owner: "test", url: `${base}/echo`, body: '{"n":1}', headers: { "content-type": "application/json", Host: "evil.example" } });

    expect(result).toMatchObject({ ok: true, status: 201, bodyTruncated: false, remoteAddress: "127.0.0.1" });
    if (!result.ok) return;
    expect(result.headers["x-test"]).toBe("yes");
    expect(result.headers["set-cookie"]).toBe("a=1, b=2");
    expect(JSON.parse(result.bodyExcerpt)).toEqual({
      method: "POST",
      host: `hooks.invalid:${server.port}`, // the URL's name, not a caller-supplied Host
      body: '{"n":1}',
      contentType: "application/json",
    });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect(calls).toEqual(["hooks.invalid"]);
  });

  it("connects to literal addresses and localhost names without asking the resolver", async () => {
    const { resolver, calls } = loopback();
    const egress = createEgressClient(loopbackPolicy, { resolver });
    const literal = await egress.send({ owner: "test", url: `http://127.0.0.1:${server.port}/echo`, method: "GET" });
    const named = await egress.send({ owner: "test", url: `http://LOCALHOST.:${server.port}/echo`, method: "GET" });
    expect(literal).toMatchObject({ ok: true, status: 201 });
    expect(named).toMatchObject({ ok: true, status: 201, remoteAddress: "127.0.0.1" });
    expect(calls).toEqual([]);
  });

  it("connects to a bracketed IPv6 literal", async (context) => {
    const v6server = http.createServer((request, response) => response.end(`host=${request.headers.host}`));
    const listening = await new Promise<boolean>((resolve) => {
      v6server.once("error", () => resolve(false));
      v6server.listen(0, "::1", () => resolve(true));
    });
    if (!listening) context.skip("this machine has no IPv6 loopback");
    try {
      const port = (v6server.address() as AddressInfo).port;
      const result = await createEgressClient(loopbackPolicy).send({ owner: "test", url: `http://[0:0:0:0:0:0:0:1]:${port}/`, method: "GET" });
      expect(result).toMatchObject({ ok: true, status: 200, bodyExcerpt: `host=[::1]:${port}`, remoteAddress: "::1" });
    } finally {
      v6server.close();
    }
  });

  it("accepts a Uint8Array body", async () => {
    const egress = createEgressClient(loopbackPolicy, loopback());
    const result = await egress.send({ owner: "test", url: `${base}/echo`, method: "PUT", body: new TextEncoder().encode("bytes") });
    expect(result.ok && JSON.parse(result.bodyExcerpt)).toMatchObject({ method: "PUT", body: "bytes" });
  });
});

describe("destinations refused before any connection", () => {
  it("refuses a host whose resolver answers a private address", async () => {
    const before = server.connections();
    const { resolver } = scriptedResolver(v4("10.0.0.5"));
    const result = await createEgressClient(loopbackPolicy, { resolver }).send({ owner: "test", url: `${base}/echo` });
    expect(result).toMatchObject({ ok: false, errorClass: "blocked", rule: "default:private" });
    expect(result.ok ? "" : result.message).not.toContain("10.0.0.5");
    expect(server.connections()).toBe(before);
  });

  it("refuses when any one of several answers is denied", async () => {
    const { resolver } = scriptedResolver([{ address: "93.184.216.34", family: 4 }, { address: "169.254.169.254", family: 4 }]);
    const result = await createEgressClient(loopbackPolicy, { resolver }).send({ owner: "test", url: "http://mixed.invalid/" });
    expect(result).toMatchObject({ ok: false, errorClass: "blocked", rule: "default:link_local" });
  });

  it("refuses an answer that is not an address", async () => {
    const { resolver } = scriptedResolver(v4("not-an-ip"));
    const result = await createEgressClient(loopbackPolicy, { resolver }).send({ owner: "test", url: "http://odd.invalid/" });
    expect(result).toMatchObject({ ok: false, errorClass: "blocked", rule: "address" });
  });

  it("refuses static violations with the rule that refused them", async () => {
    const { resolver, calls } = loopback();
    const strict = createEgressClient({ ...loopbackPolicy, httpsOnly: true, deny: ["*.internal.example"] }, { resolver });
    expect(await strict.send({ owner: "test", url: `${base}/echo` })).toMatchObject({ ok: false, errorClass: "blocked", rule: "https_only" });
    expect(await strict.send({ owner: "test", url: "https://db.internal.example/" })).toMatchObject({ errorClass: "blocked", rule: "operator:deny" });
    expect(await strict.send({ owner: "test", url: "https://u:p@example.com/" })).toMatchObject({ errorClass: "blocked", rule: "url" });
    expect(calls).toEqual([]);
  });

  it("refuses loopback unless allowLoopback is on", async () => {
    const egress = createEgressClient({ ...loopbackPolicy, allowLoopback: false }, loopback());
    expect(await egress.send({ owner: "test", url: `${base}/echo` })).toMatchObject({ ok: false, errorClass: "blocked", rule: "default:loopback" });
    expect(await egress.send({ owner: "test", url: `http://0x7f.1:${server.port}/echo` })).toMatchObject({ rule: "default:loopback" });
  });

  it("refuses to start with an unparsable rule", () => {
    expect(() => createEgressClient({ ...loopbackPolicy, deny: ["*.", "10.0.0.0/8"] })).toThrow(EgressRuleError);
  });
});

describe("DNS rebinding", () => {
  it("uses the one answer it checked: a resolver that turns private on the next call never gets a second call", async () => {
    // 127.0.0.1 stands in for the public first answer (allowLoopback), so the test never leaves this machine.
    const { resolver, calls } = scriptedResolver(v4("127.0.0.1"), v4("10.0.0.5"));
    const egress = createEgressClient(loopbackPolicy, { resolver });
    const first = await egress.send({ owner: "test", url: `http://rebind.invalid:${server.port}/echo` });
    expect(first).toMatchObject({ ok: true, status: 201, remoteAddress: "127.0.0.1" });
    expect(calls).toHaveLength(1);

    const second = await egress.send({ owner: "test", url: `http://rebind.invalid:${server.port}/echo` });
    expect(second).toMatchObject({ ok: false, errorClass: "blocked", rule: "default:private" });
    expect(calls).toHaveLength(2);
  });

  it("a destination that checked out at subscription time is still refused when it rebinds", async () => {
    const { resolver, calls } = scriptedResolver(v4("93.184.216.34"), v4("169.254.169.254"));
    const egress = createEgressClient(loopbackPolicy, { resolver });
    expect(await egress.checkDestination("https://rebind.invalid/hook")).toEqual({ ok: true });
    expect(await egress.send({ owner: "test", url: "https://rebind.invalid/hook" })).toMatchObject({ ok: false, errorClass: "blocked", rule: "default:link_local" });
    expect(calls).toHaveLength(2);
  });
});

describe("checkDestination", () => {
  it("combines the static check, resolution and the address check", async () => {
    const { resolver } = scriptedResolver(v4("192.168.1.10"));
    const egress = createEgressClient({ ...loopbackPolicy, httpsOnly: true }, { resolver });
    expect(await egress.checkDestination("http://x.invalid/")).toMatchObject({ ok: false, rule: "https_only" });
    expect(await egress.checkDestination("https://x.invalid/")).toEqual({
      ok: false,
      rule: "default:private",
      detail: "x.invalid: 192.168.1.10 is in a private range (192.168.0.0/16)",
    });
  });

  it("reports a name that does not resolve", async () => {
    const egress = createEgressClient(loopbackPolicy, { resolver: async () => [] });
    expect(await egress.checkDestination("https://nowhere.invalid/")).toMatchObject({ ok: false, rule: "dns" });
  });
});

describe("redirects", () => {
  it("are returned, not followed, by default", async () => {
    const egress = createEgressClient(loopbackPolicy, loopback());
    const before = server.seen.length;
    const result = await egress.send({ owner: "test", url: `${base}/redirect?to=/echo`, method: "GET" });
    expect(result).toMatchObject({ ok: true, status: 302, headers: { location: "/echo" } });
    expect(server.seen.length - before).toBe(1);
  });

  it("when enabled, are followed with every hop resolved and checked again", async () => {
    const { resolver, calls } = loopback();
    const egress = createEgressClient({ ...loopbackPolicy, followRedirects: true }, { resolver });
    const result = await egress.send({ owner: "test", url: `${base}/redirect?status=303&to=/echo`, body: "payload", headers: { "content-type": "text/plain" } });
    expect(result).toMatchObject({ ok: true, status: 201 });
    expect(result.ok && JSON.parse(result.bodyExcerpt)).toMatchObject({ method: "GET", body: "", contentType: null });
    expect(calls).toEqual(["hooks.invalid", "hooks.invalid"]);
  });

  it("when enabled, refuse a same-origin hop whose name now resolves to a denied address", async () => {
    const { resolver } = scriptedResolver(v4("127.0.0.1"), v4("10.0.0.5"));
    const before = server.seen.length;
    const result = await createEgressClient({ ...loopbackPolicy, followRedirects: true }, { resolver })
      .send({ owner: "test", url: `${base}/redirect?to=/echo` });
    expect(result).toMatchObject({ ok: false, errorClass: "blocked", rule: "default:private" });
    expect(result.ok ? "" : result.message).toMatch(/^a redirect was refused/);
    expect(server.seen.length - before).toBe(1);
  });

  it("when enabled, forward every header on a same-origin hop: it is the receiver the tenant configured", async () => {
    const egress = createEgressClient({ ...loopbackPolicy, followRedirects: true }, loopback());
    const before = server.headers.length;
    const result = await egress.send({ owner: "test", url: `${base}/redirect?status=307&to=/echo`, body: "{}", headers: credentialHeaders });
    expect(result).toMatchObject({ ok: true, status: 201 });
    const [first, second] = server.headers.slice(before);
    for (const [name, value] of Object.entries(credentialHeaders)) {
      expect(first?.[name]).toBe(value);
      expect(second?.[name]).toBe(value);
    }
  });

  describe("to another origin, are not followed: the 3xx is the answer and the other origin receives nothing", () => {
    let other: TestServer;
    beforeAll(async () => {
      other = await startTestServer();
    });
    afterAll(() => other.close());

    it.each([
      ["another port", () => `http://hooks.invalid:${other.port}/echo`],
      ["another host", () => `http://elsewhere.invalid:${server.port}/echo`],
      ["another scheme", () => `https://hooks.invalid:${server.port}/echo`],
      ["a denied address", () => "http://169.254.169.254/latest/meta-data/"],
    ])("%s", async (_, target) => {
      const { resolver, calls } = loopback();
      const egress = createEgressClient({ ...loopbackPolicy, followRedirects: true }, { resolver });
      const before = { server: server.seen.length, other: other.seen.length };
      const location = target();
      const result = await egress.send({ owner: "test", url: `${base}/redirect?status=307&to=${encodeURIComponent(location)}`, body: "{}", headers: credentialHeaders });
      expect(result).toMatchObject({ ok: true, status: 307, headers: { location } });
      expect(server.seen.length - before.server).toBe(1);
      expect(other.seen.length - before.other).toBe(0);
      expect(calls).toEqual(["hooks.invalid"]);
    });
  });

  it("stop after five hops and return the last redirect", async () => {
    const egress = createEgressClient({ ...loopbackPolicy, followRedirects: true }, loopback());
    const before = server.seen.length;
    const result = await egress.send({ owner: "test", url: `${base}/loop`, method: "GET" });
    expect(result).toMatchObject({ ok: true, status: 302 });
    expect(server.seen.length - before).toBe(6);
  });
});
