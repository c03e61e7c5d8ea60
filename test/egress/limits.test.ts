/** Timeouts, size caps and the mapping of failures to error classes, against loopback servers only. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEgressClient } from "../../src/egress/client.ts";
import { closedPort, loopbackPolicy, scriptedResolver, startSilentServer, startTestServer, v4, type TestServer } from "./support.ts";

let server: TestServer;
let base: string;

beforeAll(async () => {
  server = await startTestServer();
  base = `http://hooks.invalid:${server.port}`;
});
afterAll(() => server.close());

const loopback = () => scriptedResolver(v4("127.0.0.1"));

describe("limits", () => {
  it("cuts an endless body at the cap and stops reading promptly", async () => {
    const egress = createEgressClient({ ...loopbackPolicy, maxResponseBytes: 1_024, timeoutMs: 10_000 }, loopback());
    const started = Date.now();
    const result = await egress.send({ owner: "test", url: `${base}/dribble`, method: "GET" });
    expect(result).toMatchObject({ ok: true, status: 200, bodyTruncated: true });
    expect(result.ok && result.bodyExcerpt.length).toBe(1_024);
    expect(Date.now() - started).toBeLessThan(2_000);
    await expect.poll(() => server.closedEarly()).toBeGreaterThan(0);
  });

  it("cuts a fast 4 MiB body at the cap", async () => {
    const egress = createEgressClient({ ...loopbackPolicy, maxResponseBytes: 4_096 }, loopback());
    const result = await egress.send({ owner: "test", url: `${base}/flood`, method: "GET" });
    expect(result).toMatchObject({ ok: true, bodyTruncated: true });
    expect(result.ok && result.bodyExcerpt).toBe("y".repeat(4_096));
  });

  it("keeps a body of exactly the cap whole", async () => {
    const egress = createEgressClient({ ...loopbackPolicy, maxResponseBytes: 1_024 }, loopback());
    const result = await egress.send({ owner: "test", url: `${base}/exact?bytes=1024`, method: "GET" });
    expect(result).toMatchObject({ ok: true, bodyTruncated: false });
    expect(result.ok && result.bodyExcerpt.length).toBe(1_024);
  });

  it("never ends an excerpt with half a character", async () => {
    const egress = createEgressClient({ ...loopbackPolicy, maxResponseBytes: 5 }, loopback());
    const result = await egress.send({ owner: "test", url: `${base}/utf8?text=${encodeURIComponent("abcd€€")}`, method: "GET" });
    expect(result).toMatchObject({ ok: true, bodyTruncated: true, bodyExcerpt: "abcd" });
  });

  it("refuses response headers beyond maxHeaderBytes", async () => {
    const egress = createEgressClient({ ...loopbackPolicy, maxHeaderBytes: 16_384 }, loopback());
    const result = await egress.send({ owner: "test", url: `${base}/big-headers`, method: "GET" });
    expect(result).toMatchObject({ ok: false, errorClass: "connection", message: "the response headers exceed 16384 bytes" });
  });

  it("times out a hanging endpoint within the total timeout", async () => {
    const egress = createEgressClient({ ...loopbackPolicy, timeoutMs: 400 }, loopback());
    const result = await egress.send({ owner: "test", url: `${base}/hang` });
    expect(result).toMatchObject({ ok: false, errorClass: "timeout", message: "the whole request took longer than 400 ms" });
    expect(result.durationMs).toBeGreaterThanOrEqual(390);
    expect(result.durationMs).toBeLessThan(1_500);
  });

  it("lets a request shorten, but never lengthen, the policy's timeout", async () => {
    const egress = createEgressClient({ ...loopbackPolicy, timeoutMs: 400 }, loopback());
    const shorter = await egress.send({ owner: "test", url: `${base}/hang`, timeoutMs: 150 });
    expect(shorter).toMatchObject({ errorClass: "timeout" });
    expect(shorter.durationMs).toBeLessThan(390);
    const longer = await egress.send({ owner: "test", url: `${base}/hang`, timeoutMs: 60_000 });
    expect(longer.durationMs).toBeLessThan(1_500);
  });

  it("applies connectTimeoutMs to connecting only, not to a slow answer", async () => {
    const egress = createEgressClient({ ...loopbackPolicy, connectTimeoutMs: 150, timeoutMs: 3_000 }, loopback());
    const result = await egress.send({ owner: "test", url: `${base}/slow?ms=400`, method: "GET" });
    expect(result).toMatchObject({ ok: true, status: 200, bodyExcerpt: "late" });
  });

  it("times out a connection whose TLS handshake never completes after connectTimeoutMs", async () => {
    const silent = await startSilentServer();
    try {
      const egress = createEgressClient({ ...loopbackPolicy, connectTimeoutMs: 300, timeoutMs: 5_000 }, loopback());
      const result = await egress.send({ owner: "test", url: `https://silent.invalid:${silent.port}/` });
      expect(result).toMatchObject({ ok: false, errorClass: "timeout", message: "connecting took longer than 300 ms" });
      expect(result.durationMs).toBeLessThan(1_500);
    } finally {
      await silent.close();
    }
  });
});

describe("error classes", () => {
  it("connection refused → connection", async () => {
    const port = await closedPort();
    const result = await createEgressClient(loopbackPolicy, loopback()).send({ owner: "test", url: `http://gone.invalid:${port}/` });
    expect(result).toMatchObject({ ok: false, errorClass: "connection", message: "the destination refused the connection" });
  });

  it("resolver failure → dns, without the resolver's own message", async () => {
    const failing = async (): Promise<never> => {
      throw Object.assign(new Error("getaddrinfo ENOTFOUND secret-internal-name"), { code: "ENOTFOUND" });
    };
    const result = await createEgressClient(loopbackPolicy, { resolver: failing }).send({ owner: "test", url: "http://nope.invalid/" });
    expect(result).toMatchObject({ ok: false, errorClass: "dns", message: "the host name could not be resolved" });
  });

  it("an empty answer → dns", async () => {
    const result = await createEgressClient(loopbackPolicy, { resolver: async () => [] }).send({ owner: "test", url: "http://empty.invalid/" });
    expect(result).toMatchObject({ ok: false, errorClass: "dns" });
  });

  it("a resolver that never answers → timeout within the total timeout", async () => {
    const stuck = () => new Promise<never>(() => {});
    const result = await createEgressClient({ ...loopbackPolicy, timeoutMs: 300 }, { resolver: stuck }).send({ owner: "test", url: "http://stuck.invalid/" });
    expect(result).toMatchObject({ ok: false, errorClass: "timeout", message: "resolving the host name took longer than 300 ms" });
  });
});
