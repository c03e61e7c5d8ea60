/**
 * hookledger's own scheme (see crypto/hookledgerV1.ts): lets one hookledger instance receive from another with the
 * signed headers checked too. The nonce is the timestamp and a digest of the signed content, which is the same
 * whichever of the listed `v1` signatures matches.
 */
import {
  HOOKLEDGER_SIGNATURE_HEADER,
  hookledgerV1SignedContent,
  parseHookledgerSignature,
  readSignedHeaderValues,
  verifyHookledgerV1,
} from "../../crypto/hookledgerV1.ts";
import { messageNonce, presentHeader, signedTimestamp } from "./requestParts.ts";
import { trySecrets, verificationFailure } from "./selectSecret.ts";
import type { VerifyInput, VerifyResult } from "./types.ts";

/**
 * Verifies an `X-Hookledger-Signature` request. A header listed in `h` but absent from the request is reported
 * as `missing_header`. Throws `InvalidSigningSecretError` if a secret valid at the signed time is not `whsec_…`.
 *
 * @example
 * const verdict = verifyHookledger({ headers: request.headers, rawBody, secrets: route.secrets, now: new Date() });
 */
export function verifyHookledger(input: VerifyInput): VerifyResult {
  const header = presentHeader(input.headers, HOOKLEDGER_SIGNATURE_HEADER);
  if (header === undefined) return verificationFailure("missing_header");
  const signature = parseHookledgerSignature(header);
  if (signature === undefined) return verificationFailure("malformed");
  const values = readSignedHeaderValues(input.headers, signature.signedHeaderNames);
  if (values === undefined) return verificationFailure("missing_header");
  const timestamp = String(signature.timestamp);
  const signedAt = signedTimestamp(timestamp, input);
  if (!(signedAt instanceof Date)) return signedAt;
  const signedContent = hookledgerV1SignedContent(signature.timestamp, signature.signedHeaderNames, values, input.rawBody);
  return trySecrets({
    secrets: input.secrets,
    selectAt: signedAt,
    matches: (secret) => verifyHookledgerV1({ signature, headers: input.headers, body: input.rawBody, secret: secret.value }),
    signedAt,
    nonce: messageNonce(timestamp, signedContent),
  });
}
