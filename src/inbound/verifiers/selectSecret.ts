/**
 * The steps every preset shares once it has parsed its headers: the tolerance check, choosing the secrets valid
 * at the signed time, and trying each of them.
 *
 * Secrets are chosen at the *signed* timestamp rather than at `now`: a request signed one second before a
 * rotation's cut-over and received one second after was made with the old secret, and must verify with it; a
 * request claiming a time before a retired secret's end cannot pass the tolerance check unless it really is recent.
 */
import { DEFAULT_TOLERANCE_SECONDS, type VerifierSecret, type VerifyFailure, type VerifyInput, type VerifyResult } from "./types.ts";

/**
 * A failed verdict.
 *
 * @example
 * if (header === undefined) return verificationFailure("missing_header");
 */
export function verificationFailure(reason: VerifyFailure["reason"]): VerifyFailure {
  return { ok: false, reason };
}

/**
 * Whether a signed time lies within the tolerance of `now`, in both directions; exactly at the limit passes.
 *
 * @example
 * isWithinTolerance(new Date(signedSeconds * 1000), input); // false for a request signed 301 s ago
 */
export function isWithinTolerance(signedAt: Date, input: Pick<VerifyInput, "now" | "toleranceSeconds">): boolean {
  const toleranceMs = (input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS) * 1000;
  return Math.abs(input.now.getTime() - signedAt.getTime()) <= toleranceMs;
}

/**
 * The secrets valid at an instant: `validFrom` inclusive, `validUntil` exclusive.
 *
 * @example
 * secretsValidAt(route.secrets, signedAt);
 */
export function secretsValidAt(secrets: readonly VerifierSecret[], at: Date): VerifierSecret[] {
  const time = at.getTime();
  return secrets.filter(
    (secret) => secret.validFrom.getTime() <= time && (secret.validUntil === undefined || time < secret.validUntil.getTime()),
  );
}

export interface TrySecretsInput {
  secrets: readonly VerifierSecret[];
  /** The signed timestamp, or `now` for schemes that sign none. */
  selectAt: Date;
  /** Whether the request's signature was made with this secret; compares in constant time. */
  matches: (secret: VerifierSecret) => boolean;
  signedAt?: Date;
  nonce?: string;
}

/**
 * Tries every secret valid at `selectAt`; the first that matches names the verdict.
 *
 * @example
 * return trySecrets({ secrets: input.secrets, selectAt: input.now, matches: (s) => macMatches(s.value), nonce });
 */
export function trySecrets(input: TrySecretsInput): VerifyResult {
  const candidates = secretsValidAt(input.secrets, input.selectAt);
  if (candidates.length === 0) return verificationFailure("no_valid_secret");
  const match = candidates.find((secret) => input.matches(secret));
  if (match === undefined) return verificationFailure("signature_mismatch");
  const verdict: VerifyResult = { ok: true, secretId: match.id };
  if (input.signedAt !== undefined) verdict.signedAt = input.signedAt;
  if (input.nonce !== undefined) verdict.nonce = input.nonce;
  return verdict;
}
