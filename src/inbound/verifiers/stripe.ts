/**
 * Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…][,v0=…]`, each v1 the hex HMAC-SHA256 of
 * `<t>.<body>` keyed with the endpoint secret as text (the whole `whsec_…` string, not its decoded bytes).
 *
 * Stripe lists one v1 per active endpoint secret while one is being rolled, so any v1 may match; v0 (test-mode
 * legacy) is ignored. Stripe signs no message id, so the nonce is the timestamp and a digest of the signed payload.
 */
import { timingSafeEqualBytes } from "../../crypto/constantTime.ts";
import { hmacOf } from "../../crypto/hmac.ts";
import { decodeMac, messageNonce, presentHeader, signedTimestamp } from "./requestParts.ts";
import { trySecrets, verificationFailure } from "./selectSecret.ts";
import type { VerifyInput, VerifyResult } from "./types.ts";

interface StripeSignatureHeader {
  timestamp: string;
  signatures: Uint8Array[];
}

function parseStripeSignature(header: string): StripeSignatureHeader | undefined {
  const timestamps: string[] = [];
  const signatures: Uint8Array[] = [];
  for (const item of header.split(",")) {
    const equals = item.indexOf("=");
    if (equals < 0) continue;
    const key = item.slice(0, equals).trim();
    const value = item.slice(equals + 1).trim();
    if (key === "t") timestamps.push(value);
    if (key !== "v1") continue;
    const signature = decodeMac(value, "hex", 32);
    if (signature !== undefined) signatures.push(signature);
  }
  const [timestamp] = timestamps;
  if (timestamps.length !== 1 || timestamp === undefined || signatures.length === 0) return undefined;
  return { timestamp, signatures };
}

/**
 * Verifies a Stripe webhook.
 *
 * @example
 * const verdict = verifyStripe({ headers: request.headers, rawBody, secrets: route.secrets, now: new Date() });
 */
export function verifyStripe(input: VerifyInput): VerifyResult {
  const header = presentHeader(input.headers, "stripe-signature");
  if (header === undefined) return verificationFailure("missing_header");
  const parsed = parseStripeSignature(header);
  if (parsed === undefined) return verificationFailure("malformed");
  const signedAt = signedTimestamp(parsed.timestamp, input);
  if (!(signedAt instanceof Date)) return signedAt;
  const signedPayload = [`${parsed.timestamp}.`, input.rawBody];
  return trySecrets({
    secrets: input.secrets,
    selectAt: signedAt,
    matches: (secret) => {
      const expected = hmacOf("sha256", secret.value, signedPayload);
      let matched = false;
      // Every v1 is compared, so the time taken does not tell which position matched.
      for (const signature of parsed.signatures) if (timingSafeEqualBytes(signature, expected)) matched = true;
      return matched;
    },
    signedAt,
    nonce: messageNonce(parsed.timestamp, signedPayload),
  });
}
