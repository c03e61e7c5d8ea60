/**
 * Reading the pieces a signature scheme sends: headers, signed timestamps, encoded MACs, and the nonce derived
 * from them. Each returns either the piece or the failure reason, so presets read as a straight sequence of checks.
 */
import { decodeBase64, decodeHex } from "../../crypto/encoding.ts";
import { readHeader, type HeaderSource } from "../../crypto/headerLookup.ts";
import { sha256HexOf, type MessagePart } from "../../crypto/hmac.ts";
import { parseUnixSeconds } from "../../crypto/unixTime.ts";
import { isWithinTolerance, verificationFailure } from "./selectSecret.ts";
import type { VerifyFailure, VerifyInput } from "./types.ts";

/**
 * A header's value, or `undefined` when it is absent or empty (an empty signature header is as good as none).
 *
 * @example
 * const signature = presentHeader(input.headers, "x-hub-signature-256");
 */
export function presentHeader(headers: HeaderSource, name: string): string | undefined {
  const value = readHeader(headers, name);
  return value === "" ? undefined : value;
}

/**
 * The signed time of a unix-seconds header value, or `malformed` / `timestamp_out_of_tolerance`.
 *
 * @example
 * const signedAt = signedTimestamp(timestampText, input);
 * if (!(signedAt instanceof Date)) return signedAt;
 */
export function signedTimestamp(text: string, input: Pick<VerifyInput, "now" | "toleranceSeconds">): Date | VerifyFailure {
  const seconds = parseUnixSeconds(text);
  if (seconds === undefined) return verificationFailure("malformed");
  const signedAt = new Date(seconds * 1000);
  return isWithinTolerance(signedAt, input) ? signedAt : verificationFailure("timestamp_out_of_tolerance");
}

/**
 * A received MAC as bytes, or `undefined` if it is not valid `encoding` of exactly `length` bytes.
 *
 * @example
 * decodeMac("3b1c…", "hex", 32);
 */
export function decodeMac(text: string, encoding: "hex" | "base64", length: number): Uint8Array | undefined {
  const bytes = encoding === "hex" ? decodeHex(text) : decodeBase64(text);
  return bytes?.byteLength === length ? bytes : undefined;
}

/**
 * The replay key of a timestamped message: its timestamp and the SHA-256 of exactly what was signed.
 *
 * Not the received signature: during a rotation overlap a request carries one signature per secret, and an
 * attacker replaying it could drop the one that matched first, making another match and minting a "new" nonce.
 * The signed content is the same whichever secret verifies it.
 *
 * @example
 * messageNonce("1704067200", ["1704067200.", rawBody]); // "1704067200.9f86d0…"
 */
export function messageNonce(timestamp: string, signedParts: readonly MessagePart[]): string {
  return `${timestamp}.${sha256HexOf(signedParts)}`;
}
