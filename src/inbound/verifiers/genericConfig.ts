/**
 * Configuration of the generic HMAC verifier, for providers without a preset.
 *
 * A timestamp header is accepted only together with `signedPayload: "timestamp.body"`, and required by it: a
 * timestamp outside the MAC can be rewritten by anyone replaying the request, so checking its age would only look
 * like replay protection. Unknown keys are refused so a misspelt option fails when the route is saved, not when
 * the first webhook is rejected.
 */
import * as v from "valibot";
import { exactObject } from "../../http/fields.ts";

// RFC 9110 token characters; lowercased so lookups and stored configs compare equal.
const headerName = v.pipe(
  v.string(),
  v.trim(),
  v.toLowerCase(),
  v.regex(/^[a-z0-9!#$%&'*+.^_`|~-]{1,100}$/, "must be an HTTP header name (letters, digits and !#$%&'*+.^_`|~-, at most 100)"),
);

const sharedEntries = {
  /** The header carrying the signature. */
  header: headerName,
  algorithm: v.picklist(["sha1", "sha256", "sha512"], 'must be "sha1", "sha256" or "sha512"'),
  encoding: v.picklist(["hex", "base64"], 'must be "hex" or "base64"'),
  /** Text before the encoded MAC in the header, e.g. `sha256=`. */
  prefix: v.optional(v.pipe(v.string(), v.regex(/^[\x21-\x7e]{1,64}$/, "must be 1 to 64 visible ASCII characters"))),
  /** A header with a unique delivery id, remembered by the replay guard. It is not signed. */
  nonceHeader: v.optional(headerName),
};

/**
 * Validates a generic verifier config (`v.parse(genericVerifierConfigSchema, input)`).
 *
 * @example
 * v.parse(genericVerifierConfigSchema, {
 *   header: "X-Signature", algorithm: "sha256", encoding: "hex", prefix: "sha256=",
 *   signedPayload: "timestamp.body", timestampHeader: "X-Timestamp",
 * });
 */
export const genericVerifierConfigSchema = v.variant(
  "signedPayload",
  [
    exactObject({
      ...sharedEntries,
      signedPayload: v.literal("body"),
      timestampHeader: v.optional(
        v.never('is only allowed with signedPayload "timestamp.body": an unsigned timestamp proves nothing'),
      ),
    }),
    exactObject({
      ...sharedEntries,
      /** The MAC covers `<timestamp header value>.<body>`. */
      signedPayload: v.literal("timestamp.body"),
      /** Unix seconds; checked against the tolerance and used to choose secrets. */
      timestampHeader: headerName,
    }),
  ],
  'signedPayload must be "body" or "timestamp.body"',
);

export type GenericVerifierConfig = v.InferOutput<typeof genericVerifierConfigSchema>;
