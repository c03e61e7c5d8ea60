/**
 * Reading `application/x-www-form-urlencoded` text — posted forms and query strings — from its bytes. The runtime's
 * decoders (URLSearchParams, Hono's `c.req.queries()`) turn percent-encoded bytes that are not UTF-8 into U+FFFD,
 * so `?label=k:%FF` was read as `k:\uFFFD` and answered 200; a name or value that does not decode is an error here.
 */
import type { FieldError } from "./problem.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });
const lenient = new TextDecoder("utf-8");
const ascii = new TextEncoder();

const hexValue = (byte: number | undefined): number => {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
};

/** `+` is a space, `%XX` a byte; a `%` not followed by two hex digits stays as it is (as browsers read it). */
function percentDecode(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  let length = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    const high = byte === 0x25 ? hexValue(bytes[i + 1]) : -1;
    const low = high >= 0 ? hexValue(bytes[i + 2]) : -1;
    if (low >= 0) {
      out[length++] = high * 16 + low;
      i += 2;
    } else {
      out[length++] = byte === 0x2b ? 0x20 : byte;
    }
  }
  return out.subarray(0, length);
}

function splitOn(bytes: Uint8Array, separator: number): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === separator) {
      parts.push(bytes.subarray(start, i));
      start = i + 1;
    }
  }
  return parts;
}

export interface UrlEncoded {
  /** Each name and value that decoded, in order (a name may repeat). */
  pairs: [string, string][];
  /** One per pair whose name or value is not UTF-8, naming the field as `prefix` + name (undecodable bytes as `?`). */
  errors: FieldError[];
}

/**
 * Decodes urlencoded bytes strictly: each percent-decoded name and value must be UTF-8.
 *
 * @example
 * decodeUrlEncoded(new TextEncoder().encode("a=1&note=%FF"), "query.").errors;
 * // [{ field: "query.note", message: "is not valid UTF-8 (percent-encoded bytes must spell UTF-8 text)" }]
 */
export function decodeUrlEncoded(bytes: Uint8Array, prefix = ""): UrlEncoded {
  const pairs: [string, string][] = [];
  const errors: FieldError[] = [];
  for (const part of splitOn(bytes, 0x26)) {
    if (part.length === 0) continue;
    const equals = part.indexOf(0x3d);
    const [rawName, rawValue] = equals < 0 ? [part, new Uint8Array(0)] : [part.subarray(0, equals), part.subarray(equals + 1)];
    const nameBytes = percentDecode(rawName);
    const valueBytes = percentDecode(rawValue);
    try {
      pairs.push([utf8.decode(nameBytes), utf8.decode(valueBytes)]);
    } catch {
      const name = lenient.decode(nameBytes).replace(/[\u0000\uFFFD]/g, "?");
      errors.push({ field: `${prefix}${name}`, message: "is not valid UTF-8 (percent-encoded bytes must spell UTF-8 text)" });
    }
  }
  return { pairs, errors };
}

/**
 * Why the query string of `url` cannot be read as UTF-8, one error per parameter, checked on the raw
 * (still percent-encoded) query: the decoded one already holds U+FFFD where the bytes were.
 *
 * @example
 * queryEncodingErrors("http://h/v1/events?label=k:%FF"); // [{ field: "query.label", message: "is not valid UTF-8 …" }]
 */
export function queryEncodingErrors(url: string): FieldError[] {
  const start = url.indexOf("?");
  if (start < 0) return [];
  const end = url.indexOf("#", start);
  const raw = url.slice(start + 1, end < 0 ? undefined : end);
  // A query without a percent sign spells its bytes directly: the URL parser already made them UTF-8.
  if (!raw.includes("%")) return [];
  return decodeUrlEncoded(ascii.encode(raw), "query.").errors;
}
