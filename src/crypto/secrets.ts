/**
 * Signing secrets in the Standard Webhooks format: `whsec_` followed by the base64 of random bytes.
 *
 * The prefix is what lets people (and secret scanners) recognise the value, and lets a verifier refuse a secret
 * meant for another scheme instead of silently computing with the wrong key. The spec asks for 24 to 64 bytes;
 * we generate 32, and accept the full range so secrets issued by other Standard Webhooks senders (Svix uses 24)
 * can be configured for inbound routes.
 */
import { randomBytes } from "node:crypto";
import { decodeBase64 } from "./encoding.ts";
import { InvalidSigningSecretError } from "./errors.ts";

export const SIGNING_SECRET_PREFIX = "whsec_";
const GENERATED_SECRET_BYTES = 32;
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;

/**
 * A new signing secret: `whsec_` + base64 of 32 bytes from the CSPRNG.
 *
 * @example
 * const secret = generateSigningSecret(); // "whsec_3q2+7w…=" (50 characters)
 */
export function generateSigningSecret(): string {
  return SIGNING_SECRET_PREFIX + randomBytes(GENERATED_SECRET_BYTES).toString("base64");
}

/**
 * The key bytes of a `whsec_<base64>` secret. Throws `InvalidSigningSecretError` (without echoing the value) for
 * a missing prefix, text that is not canonical base64, or a key outside 24–64 bytes.
 *
 * @example
 * const key = decodeSigningSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); // 24 bytes
 */
export function decodeSigningSecret(secret: string): Uint8Array {
  if (!secret.startsWith(SIGNING_SECRET_PREFIX)) {
    throw new InvalidSigningSecretError(`a signing secret must start with "${SIGNING_SECRET_PREFIX}"`);
  }
  const key = decodeBase64(secret.slice(SIGNING_SECRET_PREFIX.length));
  if (key === undefined) {
    throw new InvalidSigningSecretError(`a signing secret must be "${SIGNING_SECRET_PREFIX}" followed by standard, padded base64`);
  }
  if (key.byteLength < MIN_SECRET_BYTES || key.byteLength > MAX_SECRET_BYTES) {
    throw new InvalidSigningSecretError(
      `a signing secret must encode ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes, this one encodes ${key.byteLength}`,
    );
  }
  return key;
}
