/**
 * The bytes of one HTTP/1.1 request (RFC 9112 §3): request line, Host, the caller's headers, framing, body, in one
 * buffer so the request leaves in one write.
 *
 * Header names must be tokens and values must not hold CR, LF, NUL or characters beyond Latin-1: a tenant's custom
 * header can otherwise smuggle a second header or request. Such a request is refused before anything is sent,
 * with the `code` Node's client uses (errors.ts: "the request has an invalid header and was not sent").
 */

import { HTTP_FIELD_VALUE, HTTP_TOKEN } from "./httpSyntax.ts";

/** Headers the transport owns: letting a caller set them would desynchronise framing or the pinned Host. */
const transportHeaders = new Set(["host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer"]);

export class InvalidRequestError extends Error {
  override readonly name = "InvalidRequestError";
  constructor(readonly code: "ERR_INVALID_HTTP_TOKEN" | "ERR_INVALID_CHAR", message: string) {
    super(message);
  }
}

export interface RequestParts {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
  /** Ask the server to close after answering (an unpooled exchange). */
  close: boolean;
}

/**
 * @example
 * requestBytes({ method: "POST", url: new URL("http://hooks.test:8080/in?a=1"), headers: { "content-type": "text/plain" },
 *   body: new TextEncoder().encode("hi"), close: false }).toString("latin1");
 * // "POST /in?a=1 HTTP/1.1\r\nhost: hooks.test:8080\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nhi"
 * @throws InvalidRequestError when the method, a header name or a header value could break the framing.
 */
export function requestBytes(parts: RequestParts): Buffer {
  if (!HTTP_TOKEN.test(parts.method)) throw new InvalidRequestError("ERR_INVALID_HTTP_TOKEN", "invalid method");
  // URL serialisation percent-encodes spaces and controls, so the target cannot break the request line.
  let head = `${parts.method} ${parts.url.pathname}${parts.url.search} HTTP/1.1\r\nhost: ${parts.url.host}\r\n`;
  for (const [name, value] of Object.entries(parts.headers)) {
    if (!HTTP_TOKEN.test(name)) throw new InvalidRequestError("ERR_INVALID_HTTP_TOKEN", "invalid header name");
    if (transportHeaders.has(name.toLowerCase())) continue;
    if (!HTTP_FIELD_VALUE.test(value)) throw new InvalidRequestError("ERR_INVALID_CHAR", "invalid character in a header value");
    head += `${name}: ${value}\r\n`;
  }
  const body = parts.body;
  // A POST, PUT or PATCH says its length even when empty; a GET or HEAD without a body says nothing.
  if (body !== undefined || !["GET", "HEAD", "DELETE", "OPTIONS"].includes(parts.method)) head += `content-length: ${body?.byteLength ?? 0}\r\n`;
  if (parts.close) head += "connection: close\r\n";
  head += "\r\n";
  const headLength = Buffer.byteLength(head, "latin1");
  const bytes = Buffer.allocUnsafe(headLength + (body?.byteLength ?? 0));
  bytes.write(head, 0, "latin1");
  if (body !== undefined) bytes.set(body, headLength);
  return bytes;
}
