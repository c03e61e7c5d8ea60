/**
 * GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`, keyed with the webhook secret as text.
 *
 * GitHub signs no timestamp, so secrets are chosen at `now` and a captured delivery stays valid for as long as
 * its secret does; `X-GitHub-Delivery` (unsigned) is the nonce. The legacy SHA-1 `X-Hub-Signature` is not accepted.
 */
import { timingSafeEqualBytes } from "../../crypto/constantTime.ts";
import { hmacOf } from "../../crypto/hmac.ts";
import { decodeMac, presentHeader } from "./requestParts.ts";
import { trySecrets, verificationFailure } from "./selectSecret.ts";
import type { VerifyInput, VerifyResult } from "./types.ts";

const PREFIX = "sha256=";

/**
 * Verifies a GitHub webhook delivery.
 *
 * @example
 * const verdict = verifyGithub({ headers: request.headers, rawBody, secrets: route.secrets, now: new Date() });
 * if (verdict.ok) replayGuard.remember(verdict.nonce);
 */
export function verifyGithub(input: VerifyInput): VerifyResult {
  const header = presentHeader(input.headers, "x-hub-signature-256");
  if (header === undefined) return verificationFailure("missing_header");
  const received = header.startsWith(PREFIX) ? decodeMac(header.slice(PREFIX.length), "hex", 32) : undefined;
  if (received === undefined) return verificationFailure("malformed");
  return trySecrets({
    secrets: input.secrets,
    selectAt: input.now,
    matches: (secret) => timingSafeEqualBytes(hmacOf("sha256", secret.value, [input.rawBody]), received),
    nonce: presentHeader(input.headers, "x-github-delivery"),
  });
}
