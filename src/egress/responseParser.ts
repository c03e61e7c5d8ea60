/**
 * An incremental HTTP/1.1 response parser (RFC 9112) for the bytes a destination sends back.
 *
 * Why our own: the worker sends one request per delivery, and `node:http`'s client on Bun cost ~0.09 CPU-ms per
 * request against ~0.03 for a socket carrying prebuilt bytes (16 keep-alive connections to a local receiver): its
 * agent, streams and events were most of the worker's CPU per delivery once the database work was batched. What
 * this parser accepts is deliberately narrow, because every byte comes from a tenant-chosen server: a status line
 * of HTTP/1.0 or 1.1, header lines within `maxHeaderBytes` (status line, headers and, for a chunked body, the
 * trailers, each counted on its own), and a body framed by RFC 9112 §6.3: none (HEAD, 1xx, 204, 304),
 * Transfer-Encoding ending in chunked, a single Content-Length, or the connection's close. Anything else — obs-fold,
 * a bad header name, conflicting lengths, a malformed chunk — is an error whose `code` starts with `HPE_`, as
 * Node's parser names them, so errors.ts classifies both alike.
 *
 * A response may be reused for the next request only when its framing ended it (not the close), the version is
 * 1.1, no `Connection: close` was sent, and nothing followed it; `reusable` says so.
 *
 * What a response may spend before its body is bounded as well as each header block: at most
 * `MAX_INTERIM_RESPONSES` interim (1xx) responses, and `MAX_CHUNK_FRAMING_BYTES` of chunk-size lines and chunk ends in
 * all. Unbounded, a destination answering `100 Continue` without end, or a body in 1-byte chunks each with a 1 KB
 * extension, kept the worker's event loop parsing until the timeout (`/health` waited 1.6 s behind six of them).
 */

import { HTTP_FIELD_VALUE, HTTP_TOKEN } from "./httpSyntax.ts";

export interface ResponseHead {
  status: number;
  /** Lower-case names; repeated fields joined with ", ". */
  headers: Record<string, string>;
}

export interface ResponseHandlers {
  head(head: ResponseHead): void;
  body(bytes: Buffer): void;
  /** The response ended; `reusable`: the connection may carry another request. */
  done(reusable: boolean): void;
}

export class ResponseParseError extends Error {
  override readonly name = "ResponseParseError";
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

type State =
  | { kind: "head" }
  | { kind: "length"; left: number }
  | { kind: "chunk-size" }
  | { kind: "chunk-data"; left: number }
  | { kind: "chunk-end" }
  | { kind: "trailers" }
  | { kind: "until-close" }
  | { kind: "done" };

/** Interim responses (100 Continue, 102 Processing, 103 Early Hints) read before the final one; more is an error. */
export const MAX_INTERIM_RESPONSES = 16;
/** Bytes of chunk framing (size lines with any extensions, and the line ends after data) one body may use. */
export const MAX_CHUNK_FRAMING_BYTES = 64 * 1024;

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [\t\x20-\x7e\x80-\xff]*)?$/;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,15})[\t ]*(?:;[\t\x20-\x7e\x80-\xff]*)?$/;
const DIGITS = /^\d{1,15}$/;

function invalid(message: string): ResponseParseError {
  return new ResponseParseError("HPE_INVALID_RESPONSE", message);
}

/**
 * @example
 * const parser = new ResponseParser({ maxHeaderBytes: 16384, bodyless: false }, {
 *   head: ({ status }) => console.log(status), body: () => {}, done: (reusable) => console.log(reusable) });
 * parser.push(Buffer.from("HTTP/1.1 204 No Content\r\n\r\n")); // logs 204, then true
 */
export class ResponseParser {
  private state: State = { kind: "head" };
  private pending: Buffer = Buffer.alloc(0);
  private keepAlive = true;
  private received = false;
  /** The response ended and `done` is still to be called (at the end of the `push` that ended it). */
  private ended = false;
  private interimResponses = 0;
  private framingBytes = 0;

  constructor(
    private readonly options: { maxHeaderBytes: number; /** The request was HEAD: no response has a body. */ bodyless: boolean },
    private readonly handlers: ResponseHandlers,
  ) {}

  /** Feeds bytes as they arrive. @throws ResponseParseError on the first byte that breaks the grammar or a limit. */
  push(chunk: Buffer): void {
    if (chunk.length > 0) this.received = true;
    this.consume(chunk);
    this.report();
  }

  private consume(chunk: Buffer): void {
    let data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = Buffer.alloc(0);
    while (data.length > 0) {
      const state = this.state;
      switch (state.kind) {
        case "done":
          // Bytes after a complete response: the server is not speaking one response per request.
          this.keepAlive = false;
          return;
        case "head":
        case "trailers": {
          const end = blockEnd(data);
          if (end === undefined) {
            if (data.length > this.options.maxHeaderBytes) throw new ResponseParseError("HPE_HEADER_OVERFLOW", "response headers too large");
            this.pending = data;
            return;
          }
          if (end.headerBytes > this.options.maxHeaderBytes) throw new ResponseParseError("HPE_HEADER_OVERFLOW", "response headers too large");
          const block = data.subarray(0, end.headerBytes).toString("latin1");
          data = data.subarray(end.consumed);
          if (state.kind === "head") this.onHead(block);
          else this.finish();
          break;
        }
        case "length":
          data = this.passBody(state, data);
          if (state.left === 0) this.finish();
          break;
        case "chunk-size": {
          const newline = data.indexOf(0x0a);
          if (newline === -1) {
            if (data.length > 1024) throw invalid("chunk size line too long");
            this.pending = data;
            return;
          }
          this.countFraming(newline + 1);
          const line = stripCR(data.subarray(0, newline).toString("latin1"));
          data = data.subarray(newline + 1);
          const match = CHUNK_SIZE.exec(line);
          if (!match) throw invalid("malformed chunk size");
          const size = Number.parseInt(match[1] ?? "", 16);
          this.state = size === 0 ? { kind: "trailers" } : { kind: "chunk-data", left: size };
          break;
        }
        case "chunk-data":
          data = this.passBody(state, data);
          if (state.left === 0) this.state = { kind: "chunk-end" };
          break;
        case "chunk-end": {
          if (data.length < 2 && data[0] === 0x0d) {
            this.pending = data;
            return;
          }
          if (data[0] === 0x0d && data[1] === 0x0a) {
            this.countFraming(2);
            data = data.subarray(2);
          } else if (data[0] === 0x0a) {
            this.countFraming(1);
            data = data.subarray(1);
          } else throw invalid("chunk data longer than its size");
          this.state = { kind: "chunk-size" };
          break;
        }
        case "until-close":
          this.handlers.body(data);
          return;
      }
    }
  }

  /** The connection closed. Ends a body framed by the close; @throws ResponseParseError when it cut a response short. */
  end(): void {
    if (this.state.kind === "done") return;
    if (this.state.kind === "until-close") {
      this.keepAlive = false;
      this.finish();
      this.report();
      return;
    }
    throw new ResponseParseError("HPE_INCOMPLETE", "the connection closed before the response ended");
  }

  /** True once a byte of a response has arrived (a reset after that is not a stale kept-alive connection). */
  get started(): boolean {
    return this.received;
  }

  /** Hands on up to `state.left` bytes of body, counting them off; answers the bytes after them. */
  private passBody(state: { left: number }, data: Buffer): Buffer {
    const take = Math.min(state.left, data.length);
    this.handlers.body(data.subarray(0, take));
    state.left -= take;
    return data.subarray(take);
  }

  private onHead(block: string): void {
    const lines = block.split("\n").map(stripCR);
    const match = STATUS_LINE.exec(lines[0] ?? "");
    if (!match) throw new ResponseParseError("HPE_INVALID_CONSTANT", "not an HTTP/1.x status line");
    const status = Number(match[2]);
    // A Map, not an object: a header named `constructor` or `__proto__` would meet Object.prototype's (`in` was true
    // for it before any such header arrived, and the recorded value began with a function's source text).
    const fields = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).toLowerCase();
      if (colon <= 0 || !HTTP_TOKEN.test(name)) throw new ResponseParseError("HPE_INVALID_HEADER_TOKEN", "malformed header line");
      const value = line.slice(colon + 1).replace(/^[\t ]+|[\t ]+$/g, "");
      if (!HTTP_FIELD_VALUE.test(value)) throw new ResponseParseError("HPE_INVALID_HEADER_TOKEN", "invalid character in a header value");
      const earlier = fields.get(name);
      fields.set(name, earlier === undefined ? value : `${earlier}, ${value}`);
    }
    const headers: Record<string, string> = Object.fromEntries(fields);
    // 1xx other than 101 are interim (100 Continue, 103 Early Hints): the final response follows.
    if (status >= 100 && status < 200 && status !== 101) {
      if (++this.interimResponses > MAX_INTERIM_RESPONSES) throw invalid(`more than ${MAX_INTERIM_RESPONSES} interim (1xx) responses`);
      return;
    }
    if (status === 101) throw invalid("a protocol switch that was not asked for");
    const connection = (headers["connection"] ?? "").toLowerCase().split(",").map((token) => token.trim());
    // HTTP/1.0 keeps a connection only by a Keep-Alive extension we do not rely on.
    this.keepAlive = match[1] === "1" && !connection.includes("close");
    this.handlers.head({ status, headers });
    this.state = this.framing(status, headers);
    if (this.state.kind === "done") this.finish();
  }

  private framing(status: number, headers: Record<string, string>): State {
    if (this.options.bodyless || status === 204 || status === 304) return { kind: "done" };
    const transferEncoding = headers["transfer-encoding"];
    if (transferEncoding !== undefined) {
      // With both, Transfer-Encoding decides and the connection is not trusted with another request (§6.3 item 3).
      if (headers["content-length"] !== undefined) this.keepAlive = false;
      const codings = transferEncoding.toLowerCase().split(",").map((coding) => coding.trim());
      if (codings.at(-1) === "chunked") return { kind: "chunk-size" };
      this.keepAlive = false;
      return { kind: "until-close" };
    }
    const contentLength = headers["content-length"];
    if (contentLength !== undefined) {
      const values = new Set(contentLength.split(",").map((value) => value.trim()));
      const [only] = values;
      if (values.size !== 1 || only === undefined || !DIGITS.test(only)) throw new ResponseParseError("HPE_UNEXPECTED_CONTENT_LENGTH", "invalid Content-Length");
      const length = Number(only);
      return length === 0 ? { kind: "done" } : { kind: "length", left: length };
    }
    this.keepAlive = false;
    return { kind: "until-close" };
  }

  private countFraming(bytes: number): void {
    this.framingBytes += bytes;
    if (this.framingBytes > MAX_CHUNK_FRAMING_BYTES) throw invalid(`more than ${MAX_CHUNK_FRAMING_BYTES} bytes of chunk framing`);
  }

  private finish(): void {
    this.state = { kind: "done" };
    this.ended = true;
  }

  private report(): void {
    if (!this.ended) return;
    this.ended = false;
    this.handlers.done(this.keepAlive);
  }
}

function stripCR(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}

/**
 * Where a header block ends: after an empty line (CRLF CRLF, or bare LFs). `headerBytes` excludes the final empty
 * line; `consumed` includes it.
 */
function blockEnd(data: Buffer): { headerBytes: number; consumed: number } | undefined {
  // An empty block (trailers with none): the data starts with the empty line.
  if (data[0] === 0x0a) return { headerBytes: 0, consumed: 1 };
  if (data[0] === 0x0d && data[1] === 0x0a) return { headerBytes: 0, consumed: 2 };
  let from = 0;
  for (;;) {
    const newline = data.indexOf(0x0a, from);
    if (newline === -1) return undefined;
    if (data[newline + 1] === 0x0a) return { headerBytes: newline, consumed: newline + 2 };
    if (data[newline + 1] === 0x0d && data[newline + 2] === 0x0a) return { headerBytes: newline, consumed: newline + 3 };
    if (newline + 2 >= data.length) return undefined;
    from = newline + 1;
  }
}
