/**
 * Slack: `X-Slack-Signature: v0=<hex>`, the HMAC-SHA256 of `v0:<X-Slack-Request-Timestamp>:<body>` keyed with
 * the app's signing secret as text. Slack signs no message id, so the nonce is the timestamp and a digest of the
 * signed base string.
 */
import { timingSafeEqualBytes } from "../../crypto/constantTime.ts";
import { hmacOf } from "../../crypto/hmac.ts";
import { decodeMac, messageNonce, presentHeader, signedTimestamp } from "./requestParts.ts";
import { trySecrets, verificationFailure } from "./selectSecret.ts";
import type { VerifyInput, VerifyResult } from "./types.ts";

const PREFIX = "v0=";

/**
 * Verifies a Slack request (Events API, slash commands, interactivity).
 *
 * @example
 * const verdict = verifySlack({ headers: request.headers, rawBody, secrets: route.secrets, now: new Date() });
 */
export function verifySlack(input: VerifyInput): VerifyResult {
  const header = presentHeader(input.headers, "x-slack-signature");
  const timestamp = presentHeader(input.headers, "x-slack-request-timestamp");
  if (header === undefined || timestamp === undefined) return verificationFailure("missing_header");
  const received = header.startsWith(PREFIX) ? decodeMac(header.slice(PREFIX.length), "hex", 32) : undefined;
  if (received === undefined) return verificationFailure("malformed");
  const signedAt = signedTimestamp(timestamp, input);
  if (!(signedAt instanceof Date)) return signedAt;
  const baseString = [`v0:${timestamp}:`, input.rawBody];
  return trySecrets({
    secrets: input.secrets,
    selectAt: signedAt,
    matches: (secret) => timingSafeEqualBytes(hmacOf("sha256", secret.value, baseString), received),
    signedAt,
    nonce: messageNonce(timestamp, baseString),
  });
}
