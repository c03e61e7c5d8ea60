/**
 * Fairness between owners (organizations) that deliver to one destination, against a loopback server that counts
 * its connections: an owner whose receiver hangs cannot hold the last quarter of the destination's connections, a
 * freed connection goes to the owner holding the fewest, an owner alone keeps the plain pooling behaviour, and a
 * request that gives up waiting keeps nothing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createEgressClient, type EgressClient, type EgressResult } from "../../src/egress/client.ts";
import { ownerCap, type ConnectionPoolLimits } from "../../src/egress/pool.ts";
import { loopbackPolicy, scriptedResolver, startTestServer, v4, type TestServer } from "./support.ts";

let server: TestServer;
/** One host name, one checked address: every request of these tests borrows from the same pooled destination. */
let base: string;
const clients: EgressClient[] = [];

beforeAll(async () => {
  server = await startTestServer();
  base = `http://hooks.invalid:${server.port}`;
});
afterAll(() => server.close());
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  // Tests count connections, so none may outlive the test that opened it.
  await expect.poll(() => server.openConnections()).toBe(0);
});

function pooledClient(limits: Partial<ConnectionPoolLimits>): EgressClient {
  const client = createEgressClient({ ...loopbackPolicy, connectionPool: { ...loopbackPolicy.connectionPool, ...limits } }, scriptedResolver(v4("127.0.0.1")));
  clients.push(client);
  return client;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Requests the server has seen since `from` (an index into `server.seen`) whose path and query start with `prefix`. */
function seenSince(from: number, prefix: string): string[] {
  return server.seen.slice(from).map((request) => request.url).filter((url) => url.startsWith(prefix));
}

function statuses(results: EgressResult[]): (number | string)[] {
  return results.map((result) => (result.ok ? result.status : result.errorClass));
}

describe("ownerCap", () => {
  it("keeps the last quarter of a destination's connections from any one owner, and caps nothing below 4", () => {
    expect(ownerCap(256)).toBe(192);
    expect(ownerCap(8)).toBe(6);
    expect(ownerCap(4)).toBe(3);
    expect([1, 2, 3].map(ownerCap)).toEqual([1, 2, 3]);
  });
});

describe("owners sharing a destination", () => {
  it("an owner whose receiver hangs holds at most its cap; another owner is served from the last quarter meanwhile", async () => {
    const egress = pooledClient({ maxSocketsPerDestination: 8 });
    const [connectionsBefore, seenBefore] = [server.connections(), server.seen.length];
    // Organization A: six requests hanging until their timeout take its cap (8 less a quarter)...
    const holders = Array.from({ length: 6 }, (_, n) => egress.send({ owner: "org_a", url: `${base}/hang?n=${n}`, timeoutMs: 2_500 }));
    await expect.poll(() => seenSince(seenBefore, "/hang").length).toBe(6);
    // ...and four more wait: two slots are free, but they are the other owners' quarter.
    const overCap = Array.from({ length: 4 }, (_, n) => egress.send({ owner: "org_a", url: `${base}/hang?over=${n}`, timeoutMs: 1_000 }));
    await sleep(50);

    const started = performance.now();
    const others = await Promise.all([0, 1].map((n) => egress.send({ owner: "org_b", url: `${base}/echo?n=${n}`, body: "{}", timeoutMs: 800 })));
    expect(statuses(others)).toEqual([201, 201]);
    expect(performance.now() - started).toBeLessThan(800);

    expect(statuses(await Promise.all(overCap))).toEqual(Array(4).fill("timeout"));
    // A's requests over its cap never reached the server, not even through B's connections left idle.
    expect(seenSince(seenBefore, "/hang?over")).toEqual([]);
    expect(statuses(await Promise.all(holders))).toEqual(Array(6).fill("timeout"));
    expect(server.connections() - connectionsBefore).toBe(8);
  });

  it("a freed connection goes to the waiting owner that holds fewer connections, before an older request of the other", async () => {
    const egress = pooledClient({ maxSocketsPerDestination: 8 });
    const [connectionsBefore, seenBefore] = [server.connections(), server.seen.length];
    // Every connection busy: A holds five (one of which answers early), B three.
    const holders = [
      egress.send({ owner: "org_a", url: `${base}/slow?ms=600`, method: "GET" }),
      ...Array.from({ length: 4 }, () => egress.send({ owner: "org_a", url: `${base}/slow?ms=1500`, method: "GET" })),
      ...Array.from({ length: 3 }, () => egress.send({ owner: "org_b", url: `${base}/slow?ms=1500`, method: "GET" })),
    ];
    await expect.poll(() => seenSince(seenBefore, "/slow").length).toBe(8);
    // A queues first, B second; neither owner is at its cap of 6.
    const fromA = egress.send({ owner: "org_a", url: `${base}/echo?from=a`, body: "{}" });
    await sleep(30);
    const fromB = egress.send({ owner: "org_b", url: `${base}/echo?from=b`, body: "{}" });

    expect(statuses(await Promise.all([fromA, fromB]))).toEqual([201, 201]);
    // A's early answer freed its connection: it went to B (3 held against A's 4), and back to A once B was done.
    expect(seenSince(seenBefore, "/echo")).toEqual(["/echo?from=b", "/echo?from=a"]);
    expect(statuses(await Promise.all(holders))).toEqual(Array(8).fill(200));
    expect(server.connections() - connectionsBefore).toBe(8);
  });
});

describe("an owner alone", () => {
  it("reaches its cap, then reuses its idle connections as before", async () => {
    const egress = pooledClient({ maxSocketsPerDestination: 8 });
    const before = server.connections();
    const burst = await Promise.all(Array.from({ length: 12 }, () => egress.send({ owner: "org_a", url: `${base}/slow?ms=150`, method: "GET" })));
    expect(statuses(burst)).toEqual(Array(12).fill(200));
    expect(server.connections() - before).toBe(6);
    for (let n = 0; n < 3; n += 1) expect(await egress.send({ owner: "org_a", url: `${base}/echo`, body: `{"n":${n}}` })).toMatchObject({ ok: true, status: 201 });
    expect(server.connections() - before).toBe(6);
  });

  it("uses every connection of a destination smaller than 4 (no quarter to keep)", async () => {
    const egress = pooledClient({ maxSocketsPerDestination: 3 });
    const before = server.connections();
    const burst = await Promise.all(Array.from({ length: 6 }, () => egress.send({ owner: "org_a", url: `${base}/slow?ms=150`, method: "GET" })));
    expect(statuses(burst)).toEqual(Array(6).fill(200));
    expect(server.connections() - before).toBe(3);
  });
});

describe("a request that gives up waiting", () => {
  it("holds no connection afterwards, whether it waited at its owner's cap or for a full destination", async () => {
    const egress = pooledClient({ maxSocketsPerDestination: 4 });
    const [connectionsBefore, seenBefore] = [server.connections(), server.seen.length];
    const holders = [
      ...Array.from({ length: 3 }, () => egress.send({ owner: "org_a", url: `${base}/slow?ms=500`, method: "GET" })),
      egress.send({ owner: "org_b", url: `${base}/slow?ms=500`, method: "GET" }),
    ];
    await expect.poll(() => seenSince(seenBefore, "/slow").length).toBe(4);
    // A waits at its cap (3 of 4), B for the full destination; both give up.
    const impatient = await Promise.all(["org_a", "org_b"].map((owner) => egress.send({ owner, url: `${base}/echo`, body: "{}", timeoutMs: 100 })));
    expect(statuses(impatient)).toEqual(["timeout", "timeout"]);
    expect(statuses(await Promise.all(holders))).toEqual(Array(4).fill(200));

    // Every slot is back: A's three and B's one run at once again (one left waiting would answer after its timeout).
    const again = await Promise.all([
      ...Array.from({ length: 3 }, () => egress.send({ owner: "org_a", url: `${base}/slow?ms=400`, method: "GET", timeoutMs: 700 })),
      egress.send({ owner: "org_b", url: `${base}/slow?ms=400`, method: "GET", timeoutMs: 700 }),
    ]);
    expect(statuses(again)).toEqual(Array(4).fill(200));
    expect(seenSince(seenBefore, "/echo")).toEqual([]);
    expect(server.connections() - connectionsBefore).toBe(4);
  });
});
