/**
 * Standard Webhooks (and Svix, which it grew from): `webhook-id`, `webhook-timestamp` and a space-separated list
 * of `v1,<base64>` signatures in `webhook-signature`, keyed with `whsec_` secrets. The signed `webhook-id` is the
 * nonce, as the spec recommends.
 *
 * Svix-powered senders (Clerk, Resend…) send the same scheme under `svix-id`, `svix-timestamp` and
 * `svix-signature`, and the Svix libraries accept either; so does this preset. The names are read as one family —
 * `webhook-*` when any of them is sent, else `svix-*` — never mixed, so one request has one id, timestamp and
 * signature whichever names it used, and the nonce is the same id either way.
 */
import { standardWebhookV1Signatures, verifyStandardWebhook } from "../../crypto/standardWebhooks.ts";
import { parseUnixSeconds } from "../../crypto/unixTime.ts";
import { presentHeader, signedTimestamp } from "./requestParts.ts";
import { trySecrets, verificationFailure } from "./selectSecret.ts";
import type { HeaderSource, VerifyInput, VerifyResult } from "./types.ts";

/** The header-name prefixes of the scheme, in the order they are looked for. */
const HEADER_FAMILIES = ["webhook", "svix"] as const;

/** The id, timestamp and signature headers of the first family the request sends any of (each may be absent). */
function schemeHeaders(headers: HeaderSource): { id?: string | undefined; timestamp?: string | undefined; signature?: string | undefined } {
  for (const family of HEADER_FAMILIES) {
    const found = {
      id: presentHeader(headers, `${family}-id`),
      timestamp: presentHeader(headers, `${family}-timestamp`),
      signature: presentHeader(headers, `${family}-signature`),
    };
    if (found.id !== undefined || found.timestamp !== undefined || found.signature !== undefined) return found;
  }
  return {};
}

/**
 * Verifies a Standard Webhooks request (`webhook-*` or Svix's `svix-*` headers). Throws `InvalidSigningSecretError`
 * if a secret valid at the signed time is not a `whsec_` secret: that is a configuration error to surface, not a
 * request to reject quietly.
 *
 * @example
 * const verdict = verifyStandardWebhooks({ headers: request.headers, rawBody, secrets: route.secrets, now: new Date() });
 */
export function verifyStandardWebhooks(input: VerifyInput): VerifyResult {
  const { id, timestamp, signature: signatureHeader } = schemeHeaders(input.headers);
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
