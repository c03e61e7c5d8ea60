/**
 * The contract every inbound signature verifier shares.
 *
 * Verifiers are pure: headers, raw body, the route's secrets and the current time in; a verdict out. No I/O, so
 * the replay guard (which remembers `nonce`) and the HTTP layer (which answers a bare 401 whatever the reason) stay
 * separate and every preset can be tested against its provider's own signing code.
 */
import type { HeaderSource } from "../../crypto/headerLookup.ts";
import type { GenericVerifierConfig } from "./genericConfig.ts";

export type { HeaderSource } from "../../crypto/headerLookup.ts";

/** Five minutes either way, the window Stripe, Slack and Standard Webhooks recommend. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** One secret of an inbound route, with the period it is valid in. */
export interface VerifierSecret {
  id: string;
  /** The secret exactly as configured (`whsec_…` for Standard Webhooks and hookledger-v1, raw text otherwise). */
  value: string;
  /** Inclusive. */
  validFrom: Date;
  /** Exclusive; absent while the secret is current. */
  validUntil?: Date;
}

export interface VerifyInput {
  /** A `Headers` object or a record; names are looked up case-insensitively. */
  headers: HeaderSource;
  /** The body bytes exactly as received: any re-serialisation breaks every signature. */
  rawBody: Uint8Array;
  secrets: readonly VerifierSecret[];
  now: Date;
  /** Maximum distance, in seconds, between a signed timestamp and `now`, both ways. Default 300. */
  toleranceSeconds?: number;
  /** Required by the `generic` preset and ignored by the others; validate it with `genericVerifierConfigSchema`. */
  genericConfig?: GenericVerifierConfig;
}

export interface VerifySuccess {
  ok: true;
  /** The id of the secret that matched, for usage metrics and to tell when an old secret can be retired. */
  secretId: string;
  /** The timestamp the sender signed, for schemes that sign one. */
  signedAt?: Date;
  /**
   * What the replay guard remembers for the tolerance window. Signed for Standard Webhooks (the message id) and
   * for timestamped schemes (timestamp + digest of the signed message); for GitHub, Shopify and a generic nonce
   * header it is an unsigned header, which stops accidental duplicates but not a deliberate replay.
   */
  nonce?: string;
}

export type VerificationFailureReason =
  | "missing_header"
  | "malformed"
  | "timestamp_out_of_tolerance"
  | "no_valid_secret"
  | "signature_mismatch";

export interface VerifyFailure {
  ok: false;
  /** For internal counters and logs only; callers answer a bare 401 whatever it is. */
  reason: VerificationFailureReason;
}

export type VerifyResult = VerifySuccess | VerifyFailure;

/** A preset: one provider's scheme. */
export type Verifier = (input: VerifyInput) => VerifyResult;
