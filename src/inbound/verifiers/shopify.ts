/**
 * Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>`, keyed with the app's client secret as text.
 *
 * No timestamp is signed, so secrets are chosen at `now`; `X-Shopify-Webhook-Id` (unsigned) is the nonce when sent.
 */
import { timingSafeEqualBytes } from "../../crypto/constantTime.ts";
import { hmacOf } from "../../crypto/hmac.ts";
import { decodeMac, presentHeader } from "./requestParts.ts";
import { trySecrets, verificationFailure } from "./selectSecret.ts";
import type { VerifyInput, VerifyResult } from "./types.ts";

/**
 * Verifies a Shopify webhook.
 *
 * @example
 * const verdict = verifyShopify({ headers: request.headers, rawBody, secrets: route.secrets, now: new Date() });
 */
export function verifyShopify(input: VerifyInput): VerifyResult {
  const header = presentHeader(input.headers, "x-shopify-hmac-sha256");
  if (header === undefined) return verificationFailure("missing_header");
  const received = decodeMac(header, "base64", 32);
  if (received === undefined) return verificationFailure("malformed");
  return trySecrets({
    secrets: input.secrets,
    selectAt: input.now,
    matches: (secret) => timingSafeEqualBytes(hmacOf("sha256", secret.value, [input.rawBody]), received),
    nonce: presentHeader(input.headers, "x-shopify-webhook-id"),
  });
}
