/**
 * Standard Webhooks (and Svix, which it grew from): `webhook-id`, `webhook-timestamp` and a space-separated list
 * of `v1,<base64>` signatures in `webhook-signature`, keyed with `whsec_` secrets. The signed `webhook-id` is the
 * nonce, as the spec recommends.
 */
import { standardWebhookV1Signatures, verifyStandardWebhook } from "../../crypto/standardWebhooks.ts";
import { parseUnixSeconds } from "../../crypto/unixTime.ts";
import { presentHeader, signedTimestamp } from "./requestParts.ts";
import { trySecrets, verificationFailure } from "./selectSecret.ts";
import type { VerifyInput, VerifyResult } from "./types.ts";

/**
 * Verifies a Standard Webhooks request. Throws `InvalidSigningSecretError` if a secret valid at the signed time
 * is not a `whsec_` secret: that is a configuration error to surface, not a request to reject quietly.
 *
 * @example
 * const verdict = verifyStandardWebhooks({ headers: request.headers, rawBody, secrets: route.secrets, now: new Date() });
 */
export function verifyStandardWebhooks(input: VerifyInput): VerifyResult {
  const id = presentHeader(input.headers, "webhook-id");
  const timestamp = presentHeader(input.headers, "webhook-timestamp");
  const signatureHeader = presentHeader(input.headers, "webhook-signature");
  if (id === undefined || timestamp === undefined || signatureHeader === undefined) {
    return verificationFailure("missing_header");
  }
  const seconds = parseUnixSeconds(timestamp);
  if (seconds === undefined || standardWebhookV1Signatures(signatureHeader).length === 0) {
    return verificationFailure("malformed");
  }
  const signedAt = signedTimestamp(timestamp, input);
  if (!(signedAt instanceof Date)) return signedAt;
  return trySecrets({
    secrets: input.secrets,
    selectAt: signedAt,
    matches: (secret) =>
      verifyStandardWebhook({ id, timestamp: seconds, body: input.rawBody, signatureHeader, secret: secret.value }),
    signedAt,
    nonce: id,
  });
}
