/**
 * hookledger's own signature scheme, `X-Hookledger-Signature: t=<unix seconds>,h=<names>,v1=<hex>[,v1=<hex>…]`.
 *
 * Unlike Standard Webhooks it also signs chosen request headers (a tenant id, an idempotency key…), so a
 * receiver can trust them as much as the body. `h` lists the signed header names, lowercased and separated by
 * single spaces, in the order their values were signed; the receiver follows that order, not its own.
 *
 * The MAC is HMAC-SHA256 keyed with the decoded `whsec_` secret over these bytes (UTF-8, then the raw body):
 *
 * ```
 * <t> "." <name 1> " " <name 2> … " " <name n> "." <value 1> "." <value 2> … "." <value n> "." <body>
 * ```
 *
 * e.g. `1704067200.content-type x-tenant.application/json.acme.{"a":1}`. Values are trimmed of surrounding
 * whitespace, as any HTTP receiver sees them. With no signed headers the string is `<t>...<body>`.
 * Values are joined with "." and may contain "." themselves, so a value boundary can in principle shift between
 * two adjacent signed headers; sign headers whose values cannot be rearranged that way, or keep to the few the
 * receiver actually relies on. One `v1` item is emitted per secret during a rotation overlap.
 */
import type { Buffer } from "node:buffer";
import { timingSafeEqualBytes } from "./constantTime.ts";
import { decodeHex } from "./encoding.ts";
import { readHeader, type HeaderSource } from "./headerLookup.ts";
import { hmacOf, type MessagePart } from "./hmac.ts";
import { decodeSigningSecret } from "./secrets.ts";
import { parseUnixSeconds, toUnixSeconds } from "./unixTime.ts";

export const HOOKLEDGER_SIGNATURE_HEADER = "x-hookledger-signature";

export interface SignHookledgerV1Input {
  timestamp: Date | number;
  /** The request's headers; names are looked up case-insensitively. */
  headers: HeaderSource;
  /** Headers whose values are signed, in this order. May be empty. */
  signedHeaderNames: readonly string[];
  body: string | Uint8Array;
  /** `whsec_` secrets; each adds one `v1` item. */
  secrets: readonly string[];
}

export interface HookledgerSignature {
  timestamp: number;
  signedHeaderNames: string[];
  /** Hex MACs from the `v1` items, as received. */
  signatures: string[];
}

// RFC 9110 token characters, lowercase only since the names appear verbatim in the signed string, and without
// "." so that a name can never be re-read as part of the values that follow it.
const HEADER_NAME = /^[a-z0-9!#$%&'*+^_`|~-]+$/;

function normaliseHeaderNames(names: readonly string[]): string[] {
  const lower = names.map((name) => name.toLowerCase());
  for (const name of lower) {
    if (!HEADER_NAME.test(name)) throw new RangeError(`"${name}" is not a valid header name`);
  }
  if (new Set(lower).size !== lower.length) throw new RangeError("a header name is listed twice in signedHeaderNames");
  return lower;
}

/**
 * The signed message in parts (framing, then body), for hashing without copying the body.
 *
 * @example
 * hookledgerV1SignedContent(1704067200, ["x-tenant"], ["acme"], body); // ["1704067200.x-tenant.acme.", body]
 */
export function hookledgerV1SignedContent(
  timestamp: number,
  signedHeaderNames: readonly string[],
  signedHeaderValues: readonly string[],
  body: string | Uint8Array,
): MessagePart[] {
  return [`${timestamp}.${signedHeaderNames.join(" ")}.${signedHeaderValues.join(".")}.`, body];
}

/**
 * The hex MAC of one message under one decoded key.
 *
 * @example
 * hookledgerV1Signature(key, 1704067200, ["x-tenant"], ["acme"], body); // "5f0c…" (64 hex digits)
 */
export function hookledgerV1Signature(
  key: Uint8Array,
  timestamp: number,
  signedHeaderNames: readonly string[],
  signedHeaderValues: readonly string[],
  body: string | Uint8Array,
): string {
  return hookledgerV1Mac(key, timestamp, signedHeaderNames, signedHeaderValues, body).toString("hex");
}

function hookledgerV1Mac(
  key: Uint8Array,
  timestamp: number,
  names: readonly string[],
  values: readonly string[],
  body: string | Uint8Array,
): Buffer {
  return hmacOf("sha256", key, hookledgerV1SignedContent(timestamp, names, values, body));
}

/**
 * The values of the named headers in order, or `undefined` if any is absent.
 *
 * @example
 * readSignedHeaderValues(request.headers, ["content-type", "x-tenant"]); // ["application/json", "acme"]
 */
export function readSignedHeaderValues(headers: HeaderSource, names: readonly string[]): string[] | undefined {
  const values: string[] = [];
  for (const name of names) {
    const value = readHeader(headers, name);
    if (value === undefined) return undefined;
    values.push(value);
  }
  return values;
}

/**
 * The `X-Hookledger-Signature` value for one message. Throws `RangeError` for no secrets, an invalid or repeated
 * header name, or a signed header missing from `headers`; `InvalidSigningSecretError` for a malformed secret.
 *
 * @example
 * signHookledgerV1({
 *   timestamp: new Date(), headers: { "Content-Type": "application/json", "X-Tenant": "acme" },
 *   signedHeaderNames: ["Content-Type", "X-Tenant"], body, secrets: [current, previous],
 * }); // "t=1704067200,h=content-type x-tenant,v1=5f0c…,v1=a81b…"
 */
export function signHookledgerV1(input: SignHookledgerV1Input): string {
  if (input.secrets.length === 0) throw new RangeError("at least one secret is needed to sign");
  const timestamp = toUnixSeconds(input.timestamp);
  const names = normaliseHeaderNames(input.signedHeaderNames);
  const values = readSignedHeaderValues(input.headers, names);
  if (values === undefined) throw new RangeError("a header listed in signedHeaderNames is missing from headers");
  const items = input.secrets.map(
    (secret) => `v1=${hookledgerV1Signature(decodeSigningSecret(secret), timestamp, names, values, input.body)}`,
  );
  return [`t=${timestamp}`, `h=${names.join(" ")}`, ...items].join(",");
}

/**
 * Parses an `X-Hookledger-Signature` value; `undefined` unless it has exactly one valid `t`, exactly one `h` of
 * lowercase header names, and at least one `v1`. Unknown items are ignored so a later `v2` can be added beside.
 *
 * @example
 * parseHookledgerSignature("t=1704067200,h=x-tenant,v1=5f0c…"); // { timestamp: 1704067200, signedHeaderNames: ["x-tenant"], signatures: ["5f0c…"] }
 */
export function parseHookledgerSignature(value: string): HookledgerSignature | undefined {
  const timestamps: string[] = [];
  const headerLists: string[] = [];
  const signatures: string[] = [];
  for (const item of value.split(",")) {
    const equals = item.indexOf("=");
    if (equals < 0) return undefined;
    const key = item.slice(0, equals).trim();
    const content = item.slice(equals + 1).trim();
    if (key === "t") timestamps.push(content);
    else if (key === "h") headerLists.push(content);
    else if (key === "v1") signatures.push(content);
  }
  const [rawTimestamp] = timestamps;
  const [headerList] = headerLists;
  if (timestamps.length !== 1 || headerLists.length !== 1 || signatures.length === 0) return undefined;
  const timestamp = parseUnixSeconds(rawTimestamp ?? "");
  if (timestamp === undefined) return undefined;
  const signedHeaderNames = headerList === "" || headerList === undefined ? [] : headerList.split(" ");
  if (!signedHeaderNames.every((name) => HEADER_NAME.test(name))) return undefined;
  if (new Set(signedHeaderNames).size !== signedHeaderNames.length) return undefined;
  return { timestamp, signedHeaderNames, signatures };
}

export interface VerifyHookledgerV1Input {
  /** The header value, or its parsed form when checking several secrets against one request. */
  signature: string | HookledgerSignature;
  headers: HeaderSource;
  body: string | Uint8Array;
  /** One `whsec_` secret. */
  secret: string;
}

/**
 * Whether any `v1` item was made with this secret over this request. False for an unparsable header or a
 * missing signed header. Checks neither the timestamp's age nor novelty: the inbound verifier does.
 *
 * @example
 * verifyHookledgerV1({ signature: readHeader(headers, "x-hookledger-signature") ?? "", headers, body, secret });
 */
export function verifyHookledgerV1(input: VerifyHookledgerV1Input): boolean {
  const parsed = typeof input.signature === "string" ? parseHookledgerSignature(input.signature) : input.signature;
  if (parsed === undefined) return false;
  const values = readSignedHeaderValues(input.headers, parsed.signedHeaderNames);
  if (values === undefined) return false;
  const key = decodeSigningSecret(input.secret);
  const expected = hookledgerV1Mac(key, parsed.timestamp, parsed.signedHeaderNames, values, input.body);
  let matched = false;
  // Every candidate is compared, so the time taken does not tell which position matched.
  for (const candidate of parsed.signatures) {
    const received = decodeHex(candidate);
    if (received !== undefined && timingSafeEqualBytes(received, expected)) matched = true;
  }
  return matched;
}
