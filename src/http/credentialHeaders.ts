/**
 * Which header names carry a credential, by what they say: one rule for every door. Inbound, such headers are
 * dropped before a webhook is recorded (the ledger is append-only and auditors read it); outbound, a subscription's
 * custom headers of such names read `[redacted]`, and so do a receiver's response headers in attempt records.
 *
 * Credentials, cookies and signatures by their usual names (Authorization, X-Hub-Signature, Set-Cookie,
 * Authentication, X-Credential, X-Signing-Key, Private-Key, X-Session…), and names with a part that says so:
 * `auth`, `mac`, `sig`, `pass`, `pwd`, `jwt`, `bearer`, `otp`, `cert`, `access` (X-Auth, X-Acme-Mac, X-Sig, X-Jwt,
 * Bearer, X-Otp, X-Client-Cert, X-Access). A key is a name part that is `key`/`keys` or ends in it (X-Key,
 * X-Webhook-Key, X_Api_Key, X-ApiKey), not one that merely starts with it (X-Keyboard) nor Keep-Alive. Of hiding a
 * harmless header and keeping a credential for good in an append-only ledger, the first is the cheap mistake. Two
 * families are never credentials: Idempotency-Key names a request, not a sender, and CORS's Access-Control-*.
 */
const CREDENTIAL_LIKE =
  /authori[sz]ation|authenticat|cookie|secret|token|passw|credential|signature|signing|private|session|hmac|(^|[-_])(auth|mac|sig|pass|pwd|jwt|bearer|otp|cert|access)($|[-_])|keys?($|[-_])/i;
const NOT_A_CREDENTIAL = /^((x-)?idempotency-key|access-control-[a-z-]*)$/i;

/**
 * @example
 * isCredentialHeader("X-Api-Key"); // true
 * isCredentialHeader("X-Keyboard"); // false
 */
export function isCredentialHeader(name: string): boolean {
  return CREDENTIAL_LIKE.test(name) && !NOT_A_CREDENTIAL.test(name);
}
