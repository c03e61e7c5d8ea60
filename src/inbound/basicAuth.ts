/**
 * HTTP Basic authentication for senders that can do nothing better. The route's secrets are its passwords, so
 * passwords rotate with validity windows like HMAC keys. Every candidate is compared, in constant time, whatever
 * matched earlier: the time taken tells nothing about which check failed.
 */
import { timingSafeEqualStrings } from "../crypto/constantTime.ts";
import { secretsValidAt } from "./verifiers/selectSecret.ts";
import type { VerifierSecret } from "./verifiers/types.ts";

/** The id of the password that matched, or undefined. */
export function checkBasicAuth(header: string | undefined, username: string, secrets: readonly VerifierSecret[], now: Date): string | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/]+=*)$/i.exec(header?.trim() ?? "");
  const decoded = match?.[1] ? Buffer.from(match[1], "base64").toString("utf8") : "";
  const colon = decoded.indexOf(":");
  const givenUser = colon < 0 ? "" : decoded.slice(0, colon);
  const givenPassword = colon < 0 ? "" : decoded.slice(colon + 1);
  const userMatches = timingSafeEqualStrings(givenUser, username);
  let matched: string | undefined;
  for (const secret of secretsValidAt(secrets, now)) {
    if (timingSafeEqualStrings(givenPassword, secret.value) && matched === undefined) matched = secret.id;
  }
  return colon >= 0 && userMatches ? matched : undefined;
}
