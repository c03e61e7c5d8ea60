/**
 * The HTTP/1.1 response parser the worker reads every destination's answer with: framing, reuse, and hostile bytes
 * (each response also fed one byte at a time, and a seeded fuzz of mutated responses).
 */
import { describe, expect, it } from "vitest";
import { MAX_CHUNK_FRAMING_BYTES, MAX_INTERIM_RESPONSES, ResponseParseError, ResponseParser, type ResponseHead } from "../../src/egress/responseParser.ts";
import { seededRandom } from "../support/seededRandom.ts";

interface Parsed {
  heads: ResponseHead[];
  body: string;
  done: boolean[];
}

function parse(raw: string | Buffer, options: { split?: number[] | "bytes"; bodyless?: boolean; maxHeaderBytes?: number; close?: boolean } = {}): Parsed {
  const parsed: Parsed = { heads: [], body: "", done: [] };
  const chunks: Buffer[] = [];
  const parser = new ResponseParser({ maxHeaderBytes: options.maxHeaderBytes ?? 16_384, bodyless: options.bodyless ?? false }, {
    head: (head) => parsed.heads.push(head),
    body: (bytes) => chunks.push(Buffer.from(bytes)),
    done: (reusable) => parsed.done.push(reusable),
  });
  const bytes = typeof raw === "string" ? Buffer.from(raw, "latin1") : raw;
  const cuts = options.split === "bytes" ? Array.from({ length: bytes.length }, (_, i) => i + 1) : [...(options.split ?? []), bytes.length];
  let from = 0;
  for (const cut of cuts) {
    parser.push(bytes.subarray(from, cut));
    from = cut;
  }
  if (options.close) parser.end();
  parsed.body = Buffer.concat(chunks).toString("latin1");
  return parsed;
}

function parseError(raw: string, options: Parameters<typeof parse>[1] = {}): string {
  try {
    parse(raw, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ResponseParseError);
    return (error as ResponseParseError).code;
  }
  return "no error";
}

const ok = (headers: string, body = "") => `HTTP/1.1 200 OK\r\n${headers}\r\n${body}`;

describe("framing", () => {
  it.each([["whole", undefined], ["one byte at a time", "bytes" as const]])("reads a Content-Length body (%s)", (_name, split) => {
    const parsed = parse(ok("Content-Type: text/plain\r\nContent-Length: 5\r\nX-Twice: a\r\nx-twice: b\r\n", "hello"), { split });
    expect(parsed.heads).toEqual([{ status: 200, headers: { "content-type": "text/plain", "content-length": "5", "x-twice": "a, b" } }]);
    expect(parsed.body).toBe("hello");
    expect(parsed.done).toEqual([true]);
  });

  it("keeps header names that are also names of Object.prototype's members, once each, as sent", () => {
    const parsed = parse(ok("Constructor: a\r\n__proto__: b\r\ntoString: c\r\nhasOwnProperty: d\r\nConstructor: e\r\nContent-Length: 0\r\n"));
    const headers = parsed.heads[0]?.headers ?? {};
    expect(Object.entries(headers)).toEqual([["constructor", "a, e"], ["__proto__", "b"], ["tostring", "c"], ["hasownproperty", "d"], ["content-length", "0"]]);
    expect(JSON.parse(JSON.stringify(headers))).toEqual(Object.fromEntries(Object.entries(headers)));
    expect(parsed.done).toEqual([true]);
  });

  it.each([["whole", undefined], ["one byte at a time", "bytes" as const]])("reads a chunked body with extensions and trailers (%s)", (_name, split) => {
    const raw = ok("Transfer-Encoding: gzip, chunked\r\n", "5;name=value\r\nhello\r\n1A\r\n" + "z".repeat(26) + "\r\n0\r\nX-Trailer: t\r\n\r\n");
    const parsed = parse(raw, { split });
    expect(parsed.body).toBe(`hello${"z".repeat(26)}`);
    expect(parsed.done).toEqual([true]);
  });

  it("accepts bare LF line ends", () => {
    const parsed = parse("HTTP/1.1 201 Created\nContent-Length: 2\n\nok");
    expect(parsed.heads[0]?.status).toBe(201);
    expect(parsed.body).toBe("ok");
  });

  it("skips interim 1xx responses and reads the final one", () => {
    const parsed = parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + ok("Content-Length: 2\r\n", "hi"), { split: "bytes" });
    expect(parsed.heads.map((head) => head.status)).toEqual([200]);
    expect(parsed.body).toBe("hi");
  });

  it("reads no body for 204, 304 and an answer to HEAD, whatever Content-Length says", () => {
    expect(parse("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n")).toMatchObject({ body: "", done: [true] });
    expect(parse("HTTP/1.1 304 Not Modified\r\n\r\n")).toMatchObject({ body: "", done: [true] });
    expect(parse(ok("Content-Length: 10\r\n"), { bodyless: true })).toMatchObject({ body: "", done: [true] });
  });

  it("reads a body without length until the connection closes; that connection is not reused", () => {
    const parsed = parse(ok("", "until the end"), { close: true });
    expect(parsed).toMatchObject({ body: "until the end", done: [false] });
  });

  it("ends a Content-Length of 0 at once", () => {
    expect(parse(ok("Content-Length: 0\r\n"))).toMatchObject({ body: "", done: [true] });
  });
});

describe("reuse", () => {
  it("keeps an HTTP/1.1 connection unless the server says close", () => {
    expect(parse(ok("Content-Length: 0\r\nConnection: keep-alive\r\n")).done).toEqual([true]);
    expect(parse(ok("Content-Length: 0\r\nConnection: Upgrade, Close\r\n")).done).toEqual([false]);
  });

  it("does not reuse an HTTP/1.0 connection", () => {
    expect(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").done).toEqual([false]);
  });

  it("does not reuse a connection whose response had both Transfer-Encoding and Content-Length (Transfer-Encoding frames it)", () => {
    const parsed = parse(ok("Content-Length: 100\r\nTransfer-Encoding: chunked\r\n", "2\r\nok\r\n0\r\n\r\n"));
    expect(parsed).toMatchObject({ body: "ok", done: [false] });
  });

  it("does not reuse a connection that sent bytes beyond the response", () => {
    expect(parse(ok("Content-Length: 2\r\n", "okEXTRA")).done).toEqual([false]);
  });

  it("reads to the close when Transfer-Encoding does not end in chunked", () => {
    expect(parse(ok("Transfer-Encoding: gzip\r\n", "raw"), { close: true })).toMatchObject({ body: "raw", done: [false] });
  });
});

describe("hostile responses end in an HPE_ error, never another exception", () => {
  it.each([
    ["not HTTP", "SSH-2.0-OpenSSH_9.6\r\n\r\n", "HPE_INVALID_CONSTANT"],
    ["HTTP/2 status line", "HTTP/2 200\r\n\r\n", "HPE_INVALID_CONSTANT"],
    ["status out of range", "HTTP/1.1 999999 OK\r\n\r\n", "HPE_INVALID_CONSTANT"],
    ["obs-fold", ok("X-A: one\r\n  folded\r\nContent-Length: 0\r\n"), "HPE_INVALID_HEADER_TOKEN"],
    ["space before the colon", ok("Content-Length : 0\r\n"), "HPE_INVALID_HEADER_TOKEN"],
    ["no colon", ok("garbage\r\n"), "HPE_INVALID_HEADER_TOKEN"],
    ["NUL in a value", ok("X-A: a\u0000b\r\n"), "HPE_INVALID_HEADER_TOKEN"],
    ["bare CR in a value", ok("X-A: a\rb\r\n"), "HPE_INVALID_HEADER_TOKEN"],
    ["conflicting lengths", ok("Content-Length: 1\r\nContent-Length: 2\r\n", "ab"), "HPE_UNEXPECTED_CONTENT_LENGTH"],
    ["negative length", ok("Content-Length: -1\r\n"), "HPE_UNEXPECTED_CONTENT_LENGTH"],
    ["hex length", ok("Content-Length: 0x10\r\n"), "HPE_UNEXPECTED_CONTENT_LENGTH"],
    ["huge length", ok("Content-Length: 99999999999999999999\r\n"), "HPE_UNEXPECTED_CONTENT_LENGTH"],
    ["bad chunk size", ok("Transfer-Encoding: chunked\r\n", "zz\r\n"), "HPE_INVALID_RESPONSE"],
    ["chunk longer than its size", ok("Transfer-Encoding: chunked\r\n", "2\r\nokay\r\n"), "HPE_INVALID_RESPONSE"],
    ["endless chunk size line", ok("Transfer-Encoding: chunked\r\n", "1".repeat(2_000)), "HPE_INVALID_RESPONSE"],
    ["unrequested protocol switch", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "HPE_INVALID_RESPONSE"],
  ])("%s", (_name, raw, code) => {
    expect(parseError(raw)).toBe(code);
    expect(parseError(raw, { split: "bytes" })).toBe(code);
  });

  it("refuses headers beyond maxHeaderBytes, whether or not their end has arrived", () => {
    const big = ok(`X-Big: ${"b".repeat(200)}\r\nContent-Length: 0\r\n`);
    expect(parseError(big, { maxHeaderBytes: 100 })).toBe("HPE_HEADER_OVERFLOW");
    expect(parseError(big.slice(0, 150), { maxHeaderBytes: 100 })).toBe("HPE_HEADER_OVERFLOW");
    expect(parseError(ok("Transfer-Encoding: chunked\r\n", `0\r\nX-T: ${"t".repeat(200)}\r\n\r\n`), { maxHeaderBytes: 100 })).toBe("HPE_HEADER_OVERFLOW");
  });

  it("refuses more than MAX_INTERIM_RESPONSES interim responses, and reads up to that many", () => {
    const interim = (n: number) => "HTTP/1.1 100 Continue\r\n\r\n".repeat(n) + ok("Content-Length: 2\r\n", "hi");
    expect(parse(interim(MAX_INTERIM_RESPONSES)).body).toBe("hi");
    expect(parseError(interim(MAX_INTERIM_RESPONSES + 1))).toBe("HPE_INVALID_RESPONSE");
    expect(parseError("HTTP/1.1 102 Processing\r\n\r\n".repeat(10_000))).toBe("HPE_INVALID_RESPONSE");
  });

  it("refuses a body whose chunk framing passes MAX_CHUNK_FRAMING_BYTES, and reads one just within it", () => {
    const line = (extension: number) => `1;x=${"e".repeat(extension)}\r\nz\r\n`;
    // Each chunk spends its size line (with the extension) and the line end after its byte.
    const perChunk = (extension: number) => line(extension).length - 1;
    const chunks = (count: number, extension: number) => ok("Transfer-Encoding: chunked\r\n", line(extension).repeat(count) + "0\r\n\r\n");
    const within = Math.floor((MAX_CHUNK_FRAMING_BYTES - 3) / perChunk(100));
    expect(parse(chunks(within, 100)).body).toBe("z".repeat(within));
    expect(parseError(chunks(within + 1, 100))).toBe("HPE_INVALID_RESPONSE");
    expect(parseError(chunks(100_000, 1_000))).toBe("HPE_INVALID_RESPONSE");
  });

  it("a close before the response ended is HPE_INCOMPLETE", () => {
    expect(parseError("", { close: true })).toBe("HPE_INCOMPLETE");
    expect(parseError("HTTP/1.1 200 OK\r\nContent-Le", { close: true })).toBe("HPE_INCOMPLETE");
    expect(parseError(ok("Content-Length: 10\r\n", "short"), { close: true })).toBe("HPE_INCOMPLETE");
    expect(parseError(ok("Transfer-Encoding: chunked\r\n", "5\r\nhel"), { close: true })).toBe("HPE_INCOMPLETE");
  });
});

describe("fuzz (fixed seed)", () => {

  const samples = [
    ok("Content-Length: 11\r\nContent-Type: application/json\r\n", '{"ok":true}'),
    ok("Transfer-Encoding: chunked\r\n", "4\r\nwiki\r\n5;x=y\r\npedia\r\n0\r\nT: v\r\n\r\n"),
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    "HTTP/1.0 500 Internal Server Error\r\n\r\nboom",
  ];

  it("random splits of valid responses parse to the same head, body and reuse as whole ones", () => {
    const next = seededRandom(12_345);
    for (const sample of samples) {
      const whole = parse(sample, { close: true });
      for (let round = 0; round < 200; round += 1) {
        const cuts = [...new Set(Array.from({ length: 1 + Math.floor(next() * 6) }, () => Math.floor(next() * sample.length)))].sort((a, b) => a - b);
        expect(parse(sample, { split: cuts, close: true })).toEqual(whole);
      }
    }
  });

  it("mutated responses either parse or fail with a ResponseParseError, and never report done twice", () => {
    const next = seededRandom(67_890);
    const alphabet = ["\r", "\n", ":", " ", "0", "9", "f", ";", "\u0000", "\u00ff", "-", ",", "chunked", "Content-Length: 3\r\n", "\r\n\r\n"];
    let parsedCount = 0;
    let refused = 0;
    for (let round = 0; round < 3_000; round += 1) {
      let text = samples[Math.floor(next() * samples.length)] ?? "";
      for (let edits = 1 + Math.floor(next() * 4); edits > 0; edits -= 1) {
        const at = Math.floor(next() * (text.length + 1));
        const kind = next();
        const piece = alphabet[Math.floor(next() * alphabet.length)] ?? "";
        if (kind < 0.4) text = text.slice(0, at) + piece + text.slice(at);
        else if (kind < 0.7) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(next() * 5));
        else text = text.slice(0, at) + piece + text.slice(at + piece.length);
      }
      try {
        const parsed = parse(text, { split: [Math.floor(next() * text.length)], close: next() < 0.5, maxHeaderBytes: 256 });
        expect(parsed.done.length).toBeLessThanOrEqual(1);
        parsedCount += 1;
      } catch (error) {
        expect(error).toBeInstanceOf(ResponseParseError);
        expect((error as ResponseParseError).code).toMatch(/^HPE_/);
        refused += 1;
      }
    }
    expect(parsedCount).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });
});
