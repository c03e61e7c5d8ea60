/**
 * Keep-alive connections per pinned destination, against loopback servers that count their connections: reuse,
 * separation by checked address, the limits, the races of a connection the server closes, and closing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createEgressClient, type EgressClient } from "../../src/egress/client.ts";
import type { EgressPolicy } from "../../src/egress/policy.ts";
import type { ConnectionPoolLimits } from "../../src/egress/pool.ts";
import { loopbackPolicy, resolverByName, scriptedResolver, startRawServer, startTestServer, v4, type RawServer, type TestServer } from "./support.ts";

let server: TestServer;
/** Same port as `server`, on 127.0.0.2: one URL, a different checked address. Absent where 127.0.0.2 cannot be bound. */
let twin: TestServer | undefined;
const clients: EgressClient[] = [];

beforeAll(async () => {
  server = await startTestServer();
  twin = await startTestServer({ host: "127.0.0.2", port: server.port }).catch(() => undefined);
});
afterAll(async () => {
  await server.close();
  await twin?.close();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  // Tests count open connections, so none may outlive the test that opened it.
  await expect.poll(() => server.openConnections() + (twin?.openConnections() ?? 0)).toBe(0);
});

function pooledClient(limits: Partial<ConnectionPoolLimits> = {}, options: Parameters<typeof createEgressClient>[1] = scriptedResolver(v4("127.0.0.1")), policy: Partial<EgressPolicy> = {}): EgressClient {
  const client = createEgressClient({ ...loopbackPolicy, ...policy, connectionPool: { ...loopbackPolicy.connectionPool, ...limits } }, options);
  clients.push(client);
  return client;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("connection reuse", () => {
  it("sends sequential requests to one destination over one connection, resolving and checking each of them", async () => {
    const { resolver, calls } = scriptedResolver(v4("127.0.0.1"));
    const egress = pooledClient({}, { resolver });
    const before = server.connections();
    for (let n = 0; n < 5; n += 1) {
      const result = await egress.send({ owner: "test", url: `http://hooks.invalid:${server.port}/echo`, body: `{"n":${n}}` });
      expect(result).toMatchObject({ ok: true, status: 201, remoteAddress: "127.0.0.1" });
      expect(result.ok && JSON.parse(result.bodyExcerpt)).toMatchObject({ body: `{"n":${n}}` });
    }
    expect(server.connections() - before).toBe(1);
    expect(calls).toHaveLength(5);
  });

  it("keeps a burst's connections for the next burst by default (many endpoints often share one destination)", async () => {
    const egress = pooledClient();
    const before = server.connections();
    const burst = () => Promise.all(Array.from({ length: 60 }, (_, n) => egress.send({ owner: "test", url: `http://127.0.0.1:${server.port}/slow?ms=30`, body: `{"n":${n}}` })));
    for (let round = 0; round < 3; round += 1) expect((await burst()).every((result) => result.ok)).toBe(true);
    // 60 in flight at once: 60 connections, found again by the next two bursts (with 16 kept idle, 44 reopened each).
    expect(server.connections() - before).toBe(60);
  });

  it("refuses a kept destination as soon as its name resolves to a denied address, sending nothing over the open connection", async () => {
    const { resolver } = scriptedResolver(v4("127.0.0.1"), v4("10.0.0.5"));
    const egress = pooledClient({}, { resolver });
    const before = server.seen.length;
    expect(await egress.send({ owner: "test", url: `http://rebind.invalid:${server.port}/echo` })).toMatchObject({ ok: true });
    expect(await egress.send({ owner: "test", url: `http://rebind.invalid:${server.port}/echo` })).toMatchObject({ ok: false, errorClass: "blocked", rule: "default:private" });
    expect(server.seen.length - before).toBe(1);
  });

  it("never lends a connection to a request whose check produced another address: the same name now reaches the new address", async (context) => {
    if (!twin) return context.skip("127.0.0.2 cannot be bound here");
    const egress = pooledClient({}, scriptedResolver(v4("127.0.0.1"), v4("127.0.0.2")));
    const [firstBefore, twinBefore] = [server.seen.length, twin.seen.length];
    const first = await egress.send({ owner: "test", url: `http://moved.invalid:${server.port}/echo` });
    const second = await egress.send({ owner: "test", url: `http://moved.invalid:${server.port}/echo` });
    expect(first).toMatchObject({ ok: true, remoteAddress: "127.0.0.1" });
    expect(second).toMatchObject({ ok: true, remoteAddress: "127.0.0.2" });
    expect(server.seen.length - firstBefore).toBe(1);
    expect(twin.seen.length - twinBefore).toBe(1);
  });

  it("keeps two names on different checked addresses on separate connections", async (context) => {
    if (!twin) return context.skip("127.0.0.2 cannot be bound here");
    const egress = pooledClient({}, { resolver: resolverByName({ "a.invalid": "127.0.0.1", "b.invalid": "127.0.0.2" }) });
    const before = { server: server.connections(), twin: twin.connections(), seen: server.seen.length, twinSeen: twin.seen.length };
    for (let n = 0; n < 3; n += 1) {
      expect(await egress.send({ owner: "test", url: `http://a.invalid:${server.port}/echo` })).toMatchObject({ ok: true, remoteAddress: "127.0.0.1" });
      expect(await egress.send({ owner: "test", url: `http://b.invalid:${server.port}/echo` })).toMatchObject({ ok: true, remoteAddress: "127.0.0.2" });
    }
    expect(server.connections() - before.server).toBe(1);
    expect(twin.connections() - before.twin).toBe(1);
    expect(server.seen.slice(before.seen).map((request) => request.host)).toEqual(Array(3).fill(`a.invalid:${server.port}`));
    expect(twin.seen.slice(before.twinSeen).map((request) => request.host)).toEqual(Array(3).fill(`b.invalid:${server.port}`));
  });

  it("does not carry a redirect hop over the first hop's connection when the name now resolves elsewhere", async (context) => {
    if (!twin) return context.skip("127.0.0.2 cannot be bound here");
    const egress = pooledClient({}, scriptedResolver(v4("127.0.0.1"), v4("127.0.0.2")), { followRedirects: true });
    const twinBefore = twin.seen.length;
    const result = await egress.send({ owner: "test", url: `http://hop.invalid:${server.port}/redirect?status=307&to=/echo`, body: "payload" });
    expect(result).toMatchObject({ ok: true, status: 201, remoteAddress: "127.0.0.2" });
    expect(twin.seen.slice(twinBefore).map((request) => request.url)).toEqual(["/echo"]);
  });
});

describe("timeouts on a reused connection", () => {
  it("connectTimeoutMs does not cut a slow answer on a connection that is already open", async () => {
    const egress = pooledClient({}, scriptedResolver(v4("127.0.0.1")), { connectTimeoutMs: 150 });
    const before = server.connections();
    expect(await egress.send({ owner: "test", url: `http://hooks.invalid:${server.port}/echo` })).toMatchObject({ ok: true });
    const slow = await egress.send({ owner: "test", url: `http://hooks.invalid:${server.port}/slow?ms=400`, method: "GET" });
    expect(slow).toMatchObject({ ok: true, status: 200, bodyExcerpt: "late", remoteAddress: "127.0.0.1" });
    expect(server.connections() - before).toBe(1);
  });

  it("the total timeout still ends a hanging answer", async () => {
    const egress = pooledClient({}, scriptedResolver(v4("127.0.0.1")), { timeoutMs: 300 });
    const before = server.connections();
    expect(await egress.send({ owner: "test", url: `http://hooks.invalid:${server.port}/echo` })).toMatchObject({ ok: true });
    const hang = await egress.send({ owner: "test", url: `http://hooks.invalid:${server.port}/hang` });
    expect(hang).toMatchObject({ ok: false, errorClass: "timeout", message: "the whole request took longer than 300 ms" });
    expect(server.connections() - before).toBe(1);
  });
});

describe("limits", () => {
  it("opens at most maxSocketsPerDestination connections; the other requests wait for one", async () => {
    const egress = pooledClient({ maxSocketsPerDestination: 2 });
    const before = server.connections();
    const results = await Promise.all(Array.from({ length: 6 }, () => egress.send({ owner: "test", url: `http://hooks.invalid:${server.port}/slow?ms=100`, method: "GET" })));
    expect(results.map((result) => result.ok && result.bodyExcerpt)).toEqual(Array(6).fill("late"));
    expect(server.connections() - before).toBe(2);
  });

  it("a request that times out waiting for a connection leaves the queue: the slot goes to the next one, no connection is lost", async () => {
    const egress = pooledClient({ maxSocketsPerDestination: 1 });
    const before = server.connections();
    const slow = egress.send({ owner: "test", url: `http://hooks.invalid:${server.port}/slow?ms=300`, method: "GET" });
    await sleep(20);
    const impatient = await egress.send({ owner: "test", url: `http://hooks.invalid:${server.port}/echo`, body: "x", timeoutMs: 100 });
    expect(impatient).toMatchObject({ ok: false, errorClass: "timeout" });
    expect(await slow).toMatchObject({ ok: true, bodyExcerpt: "late" });
    const results = await Promise.all(Array.from({ length: 3 }, () => egress.send({ owner: "test", url: `http://hooks.invalid:${server.port}/echo`, body: "y" })));
    expect(results.every((result) => result.ok)).toBe(true);
    // One connection carried everything: the timed-out waiter neither took a slot nor lost one.
    expect(server.connections() - before).toBe(1);
  });

  it("a queued request that gets a pooled connection adds no connect listener to it (none piles up on a busy destination)", async () => {
    const egress = pooledClient({ maxSocketsPerDestination: 2 });
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on("warning", onWarning);
    try {
      for (let round = 0; round < 3; round += 1) {
        const results = await Promise.all(Array.from({ length: 30 }, () => egress.send({ owner: "test", url: `http://hooks.invalid:${server.port}/echo`, body: "x" })));
        expect(results.every((result) => result.ok)).toBe(true);
      }
      await sleep(50);
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings.filter((message) => message.includes("listeners"))).toEqual([]);
  });

  it("closes a connection idle for idleTimeoutMs, and the next request opens a new one", async () => {
    const egress = pooledClient({ idleTimeoutMs: 200 });
    const before = server.connections();
    expect(await egress.send({ owner: "test", url: `http://idle.invalid:${server.port}/echo` })).toMatchObject({ ok: true });
    expect(server.openConnections()).toBeGreaterThan(0);
    await expect.poll(() => server.openConnections(), { timeout: 2_000 }).toBe(0);
    expect(await egress.send({ owner: "test", url: `http://idle.invalid:${server.port}/echo` })).toMatchObject({ ok: true });
    expect(server.connections() - before).toBe(2);
  });

  it("idleTimeoutMs 0 turns keep-alive off: one connection per request", async () => {
    const egress = pooledClient({ idleTimeoutMs: 0 });
    const before = server.connections();
    for (let n = 0; n < 3; n += 1) expect(await egress.send({ owner: "test", url: `http://hooks.invalid:${server.port}/echo` })).toMatchObject({ ok: true });
    expect(server.connections() - before).toBe(3);
    expect(server.headers.at(-1)?.connection).toBe("close");
  });

  it("beyond maxDestinations closes the least recently used destination's idle connections", async () => {
    const egress = pooledClient({ maxDestinations: 2 }, { resolver: resolverByName({ "one.invalid": "127.0.0.1", "two.invalid": "127.0.0.1", "three.invalid": "127.0.0.1" }) });
    const before = server.connections();
    for (const name of ["one", "two", "three"]) {
      expect(await egress.send({ owner: "test", url: `http://${name}.invalid:${server.port}/echo` })).toMatchObject({ ok: true });
    }
    await expect.poll(() => server.openConnections()).toBe(2);
    expect(await egress.send({ owner: "test", url: `http://three.invalid:${server.port}/echo` })).toMatchObject({ ok: true });
    expect(await egress.send({ owner: "test", url: `http://two.invalid:${server.port}/echo` })).toMatchObject({ ok: true });
    expect(server.connections() - before).toBe(3);
  });

  it("eviction lets a request in flight finish, then closes its connection", async () => {
    const egress = pooledClient({ maxDestinations: 1 }, { resolver: resolverByName({ "slow.invalid": "127.0.0.1", "other.invalid": "127.0.0.1" }) });
    const slow = egress.send({ owner: "test", url: `http://slow.invalid:${server.port}/slow?ms=300`, method: "GET" });
    await sleep(100);
    expect(await egress.send({ owner: "test", url: `http://other.invalid:${server.port}/echo` })).toMatchObject({ ok: true });
    expect(await slow).toMatchObject({ ok: true, status: 200, bodyExcerpt: "late" });
    await expect.poll(() => server.openConnections()).toBe(1);
  });
});

describe("a server that closes kept-alive connections", () => {
  let raw: RawServer | undefined;
  afterEach(async () => {
    await raw?.close();
    raw = undefined;
  });

  it("closing an idle connection does not fail the next delivery", async () => {
    raw = await startRawServer({ idleCloseMs: 100 });
    const egress = pooledClient();
    expect(await egress.send({ owner: "test", url: `http://hooks.invalid:${raw.port}/` })).toMatchObject({ ok: true, status: 200 });
    await sleep(300);
    expect(await egress.send({ owner: "test", url: `http://hooks.invalid:${raw.port}/` })).toMatchObject({ ok: true, status: 200, bodyExcerpt: "ok" });
    expect(raw.connections()).toBe(2);
  });

  it("a reset as a kept connection is reused is sent once more on a fresh connection", async () => {
    raw = await startRawServer({ resetRequest: 2 });
    const egress = pooledClient();
    expect(await egress.send({ owner: "test", url: `http://hooks.invalid:${raw.port}/` })).toMatchObject({ ok: true, status: 200 });
    expect(await egress.send({ owner: "test", url: `http://hooks.invalid:${raw.port}/`, body: "second" })).toMatchObject({ ok: true, status: 200, bodyExcerpt: "ok" });
    expect(raw.connections()).toBe(2);
    expect(raw.requests()).toBe(3);
  });

  it("a reset on a fresh connection is not sent again", async () => {
    raw = await startRawServer({ resetRequest: 1 });
    const egress = pooledClient();
    const result = await egress.send({ owner: "test", url: `http://hooks.invalid:${raw.port}/` });
    expect(result).toMatchObject({ ok: false, errorClass: "connection" });
    expect(raw.requests()).toBe(1);
  });
});

describe("close()", () => {
  it("closes every pooled connection; a later send still works, on a connection closed after it", async () => {
    const egress = createEgressClient(loopbackPolicy, { resolver: resolverByName({ "a.invalid": "127.0.0.1", "b.invalid": "127.0.0.1" }) });
    expect(await egress.send({ owner: "test", url: `http://a.invalid:${server.port}/echo` })).toMatchObject({ ok: true });
    expect(await egress.send({ owner: "test", url: `http://b.invalid:${server.port}/echo` })).toMatchObject({ ok: true });
    expect(server.openConnections()).toBe(2);
    await egress.close();
    await expect.poll(() => server.openConnections()).toBe(0);

    expect(await egress.send({ owner: "test", url: `http://a.invalid:${server.port}/echo` })).toMatchObject({ ok: true });
    expect(server.headers.at(-1)?.connection).toBe("close");
    await expect.poll(() => server.openConnections()).toBe(0);
  });

  it("waits for a request in flight, which succeeds, then closes its connection", async () => {
    const egress = createEgressClient(loopbackPolicy, scriptedResolver(v4("127.0.0.1")));
    const slow = egress.send({ owner: "test", url: `http://hooks.invalid:${server.port}/slow?ms=400`, method: "GET" });
    await sleep(100);
    const closing = performance.now();
    await egress.close();
    // The answer was still about 300 ms away when close() was called.
    expect(performance.now() - closing).toBeGreaterThan(200);
    expect(await slow).toMatchObject({ ok: true, bodyExcerpt: "late" });
    await expect.poll(() => server.openConnections()).toBe(0);
  });
});
