/**
 * What the egress client sends and how it reads answers byte by byte, against a loopback server that writes raw
 * HTTP: the request's exact head, framings a real receiver uses (chunked, interim 1xx, close-delimited,
 * Connection: close), hostile answers, and header injection refused before anything is sent.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createEgressClient } from "../../src/egress/client.ts";
import { loopbackPolicy, scriptedResolver, startRawServer, v4, type RawServer } from "./support.ts";

let server: RawServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const policy = { ...loopbackPolicy, connectionPool: { ...loopbackPolicy.connectionPool, idleTimeoutMs: 5_000 } };

async function serve(answers: Record<string, { bytes: string; end?: boolean }>): Promise<{ server: RawServer; url: (path: string) => string }> {
  const started = await startRawServer({
    answer: (head) => answers[head.split(" ")[1]?.split("?")[0] ?? ""] ?? { bytes: "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n" },
  });
  server = started;
  return { server: started, url: (path) => `http://hooks.invalid:${started.port}${path}` };
}

const egress = () => createEgressClient(policy, scriptedResolver(v4("127.0.0.1"), v4("127.0.0.1"), v4("127.0.0.1"), v4("127.0.0.1")));

describe("the request", () => {
  it("leaves as one HTTP/1.1 request with Host, the caller's headers and Content-Length, and keeps the connection", async () => {
    const { server, url } = await serve({ "/in": { bytes: "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n" } });
    const result = await egress().send({ owner: "test", url: url("/in?x=1"), body: "héllo", headers: { "content-type": "text/plain", "webhook-id": "msg_1" } });
    expect(result).toMatchObject({ ok: true, status: 202 });
    expect(server.heads[0]?.split("\r\n")).toEqual([
      "POST /in?x=1 HTTP/1.1",
      `host: hooks.invalid:${server.port}`,
      "content-type: text/plain",
      "webhook-id: msg_1",
      "content-length: 6",
    ]);
  });

  it("refuses a header value that would inject another header, sending nothing", async () => {
    const { server, url } = await serve({});
    const client = egress();
    const injections: Record<string, string>[] = [{ "x-a": "1\r\nx-injected: 2" }, { "x-a": "1\nx" }, { "x a": "1" }, { "x-a": "\u0100" }];
    for (const headers of injections) {
      const result = await client.send({ owner: "test", url: url("/in"), body: "{}", headers });
      expect(result).toMatchObject({ ok: false, errorClass: "connection", message: "the request has an invalid header and was not sent" });
    }
    expect(server.connections()).toBe(0);
  });

  it("never lets a caller set Host, framing or Connection", async () => {
    const { server, url } = await serve({ "/in": { bytes: "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n" } });
    await egress().send({ owner: "test", url: url("/in"), body: "{}", headers: { Host: "evil.example", "Content-Length": "999", "Transfer-Encoding": "chunked", Connection: "upgrade" } });
    const head = server.heads[0] ?? "";
    expect(head).toContain(`host: hooks.invalid:${server.port}`);
    expect(head).toContain("content-length: 2");
    expect(head.toLowerCase()).not.toMatch(/evil|transfer-encoding|connection/);
    expect(head.toLowerCase()).not.toMatch(/content-length: 999/);
  });
});

describe("framings a receiver may answer with", () => {
  it("a chunked body with trailers, and the connection carries the next request", async () => {
    const { server, url } = await serve({
      "/chunked": { bytes: "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nx-trailer: 1\r\n\r\n" },
    });
    const client = egress();
    expect(await client.send({ owner: "test", url: url("/chunked"), body: "{}" })).toMatchObject({ ok: true, status: 200, bodyExcerpt: "abcdefg" });
    expect(await client.send({ owner: "test", url: url("/chunked"), body: "{}" })).toMatchObject({ ok: true, bodyExcerpt: "abcdefg" });
    expect(server.connections()).toBe(1);
  });

  it("interim 100 and 103 answers before the final one", async () => {
    const { url } = await serve({ "/interim": { bytes: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok" } });
    expect(await egress().send({ owner: "test", url: url("/interim"), body: "{}" })).toMatchObject({ ok: true, status: 201, bodyExcerpt: "ok" });
  });

  it("a body ended by the close, and Connection: close: the next request opens a new connection", async () => {
    const { server, url } = await serve({
      "/until-close": { bytes: "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nall of it", end: true },
      "/close": { bytes: "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok" },
    });
    const client = egress();
    expect(await client.send({ owner: "test", url: url("/until-close"), body: "{}" })).toMatchObject({ ok: true, bodyExcerpt: "all of it" });
    expect(await client.send({ owner: "test", url: url("/close"), body: "{}" })).toMatchObject({ ok: true, bodyExcerpt: "ok" });
    expect(await client.send({ owner: "test", url: url("/close"), body: "{}" })).toMatchObject({ ok: true, bodyExcerpt: "ok" });
    expect(server.connections()).toBe(3);
  });

  it("an answer to HEAD has no body, whatever its Content-Length says", async () => {
    const { url } = await serve({ "/head": { bytes: "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n" } });
    expect(await egress().send({ owner: "test", url: url("/head"), method: "HEAD" })).toMatchObject({ ok: true, status: 200, bodyExcerpt: "" });
  });
});

describe("hostile answers", () => {
  it.each([
    ["not HTTP", "SSH-2.0-OpenSSH_9.6\r\n\r\n"],
    ["an HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"],
    ["a folded header", "HTTP/1.1 200 OK\r\nx-a: 1\r\n 2\r\ncontent-length: 0\r\n\r\n"],
    ["two lengths", "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab"],
    ["a bad chunk", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nnope\r\n"],
    ["a protocol switch", "HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\n\r\n"],
    // Both used to be parsed until the timeout, holding the event loop.
    ["interim answers without end", "HTTP/1.1 100 Continue\r\n\r\n".repeat(20_000)],
    ["a body of 1-byte chunks with long extensions", `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${`1;x=${"e".repeat(1000)}\r\nz\r\n`.repeat(200)}`],
  ])("%s: an invalid HTTP response, and the next request works on a new connection", async (_name, bytes) => {
    const { server, url } = await serve({ "/bad": { bytes }, "/good": { bytes: "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok" } });
    const client = egress();
    expect(await client.send({ owner: "test", url: url("/bad"), body: "{}" })).toMatchObject({ ok: false, errorClass: "connection", message: "the destination sent an invalid HTTP response" });
    expect(await client.send({ owner: "test", url: url("/good"), body: "{}" })).toMatchObject({ ok: true, status: 200 });
    expect(server.connections()).toBe(2);
  });

  it("a connection closed in the middle of the body", async () => {
    const { url } = await serve({ "/cut": { bytes: "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf", end: true } });
    expect(await egress().send({ owner: "test", url: url("/cut"), body: "{}" })).toMatchObject({ ok: false, errorClass: "connection", message: "the destination closed the connection unexpectedly" });
  });
});
