/**
 * The configurable HMAC verifier (see genericConfig.ts): the secret as text is the key, the MAC covers the body or
 * `<timestamp>.<body>`, and is sent hex or base64 encoded, optionally after a fixed prefix.
 */
import { timingSafeEqualBytes } from "../../crypto/constantTime.ts";
import { hmacOf, type HmacAlgorithm, type MessagePart } from "../../crypto/hmac.ts";
import type { GenericVerifierConfig } from "./genericConfig.ts";
import { decodeMac, messageNonce, presentHeader, signedTimestamp } from "./requestParts.ts";
import { trySecrets, verificationFailure } from "./selectSecret.ts";
import type { VerifyFailure, VerifyInput, VerifyResult } from "./types.ts";

const MAC_BYTES: Record<HmacAlgorithm, number> = { sha1: 20, sha256: 32, sha512: 64 };

interface SignedMessage {
  parts: MessagePart[];
  signedAt?: Date;
  nonce?: string;
}

/** What the MAC covers, or why it cannot be known. */
function signedMessage(config: GenericVerifierConfig, input: VerifyInput): SignedMessage | VerifyFailure {
  const nonce = config.nonceHeader === undefined ? undefined : presentHeader(input.headers, config.nonceHeader);
  // A configured nonce header that is missing would let a request skip the guard.
  if (config.nonceHeader !== undefined && nonce === undefined) return verificationFailure("missing_header");
  // Body only: nothing signed tells two sends of one body apart, so the (unsigned) header is all there is to go by
  // — a guard against the sender's duplicates, not against a replay, which can set it afresh.
  if (config.signedPayload === "body") return { parts: [input.rawBody], nonce };
  const timestamp = presentHeader(input.headers, config.timestampHeader);
  if (timestamp === undefined) return verificationFailure("missing_header");
  const signedAt = signedTimestamp(timestamp, input);
  if (!(signedAt instanceof Date)) return signedAt;
  const parts = [`${timestamp}.`, input.rawBody];
  // The signed bytes, not the header: the MAC does not cover the nonce header, and a replay with that header
  // changed would otherwise be a "new" request for as long as its timestamp is within the tolerance.
  return { parts, signedAt, nonce: messageNonce(timestamp, parts) };
}

/**
 * Verifies a request against `input.genericConfig`, which the caller has validated with
 * `genericVerifierConfigSchema`. Throws `TypeError` when it is absent.
 *
 * @example
 * const genericConfig = v.parse(genericVerifierConfigSchema, route.verifierConfig);
 * const verdict = verifyGeneric({ headers: request.headers, rawBody, secrets: route.secrets, now: new Date(), genericConfig });
 */
export function verifyGeneric(input: VerifyInput): VerifyResult {
  const config = input.genericConfig;
  if (config === undefined) throw new TypeError("the generic verifier needs genericConfig");
  const header = presentHeader(input.headers, config.header);
  if (header === undefined) return verificationFailure("missing_header");
  const prefix = config.prefix ?? "";
  const received = header.startsWith(prefix)
    ? decodeMac(header.slice(prefix.length), config.encoding, MAC_BYTES[config.algorithm])
    : undefined;
  if (received === undefined) return verificationFailure("malformed");
  const message = signedMessage(config, input);
  if (!("parts" in message)) return message;
  return trySecrets({
    secrets: input.secrets,
    selectAt: message.signedAt ?? input.now,
    matches: (secret) => timingSafeEqualBytes(hmacOf(config.algorithm, secret.value, message.parts), received),
    signedAt: message.signedAt,
    nonce: message.nonce,
  });
}
