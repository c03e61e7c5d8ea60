/**
 * Standard Webhooks symmetric signatures (https://www.standardwebhooks.com, "Signature scheme").
 *
 * The signed content is the UTF-8 of `{webhook-id}.{webhook-timestamp}.` followed by the raw body bytes, the MAC
 * is HMAC-SHA256 keyed with the decoded `whsec_` secret, and the header carries `v1,<base64 MAC>`. During a
 * rotation's overlap the header lists one signature per secret, space-separated, so a receiver holding either
 * secret verifies.
 */
import { timingSafeEqualStrings } from "./constantTime.ts";
import { hmacOf, type MessagePart } from "./hmac.ts";
import { decodeSigningSecret } from "./secrets.ts";
import { toUnixSeconds } from "./unixTime.ts";

export interface StandardWebhookHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

export interface SignStandardWebhookInput {
  /** The message id, stable across retries: receivers deduplicate on it. */
  id: string;
  /** When this attempt is sent (a Date, or unix seconds). */
  timestamp: Date | number;
  body: string | Uint8Array;
  /** `whsec_` secrets; several during a rotation overlap, each adds one signature. */
  secrets: readonly string[];
}

export interface VerifyStandardWebhookInput {
  id: string;
  /** Unix seconds, as parsed from `webhook-timestamp`. */
  timestamp: number;
  body: string | Uint8Array;
  /** The `webhook-signature` header value. */
  signatureHeader: string;
  /** One `whsec_` secret. */
  secret: string;
}

// The spec asks that ids never contain "." (it would let the id and timestamp boundary shift) and header values
// cannot carry whitespace or control characters.
const SAFE_MESSAGE_ID = /^[^.\s\p{Cc}]+$/u;

function signedContent(id: string, timestamp: number, body: string | Uint8Array): MessagePart[] {
  return [`${id}.${timestamp}.`, body];
}

/**
 * The base64 HMAC-SHA256 of one message under one decoded key (without the `v1,` prefix).
 *
 * @example
 * standardWebhookSignature(decodeSigningSecret(secret), "msg_1", 1674087231, '{"a":1}'); // "K5oZfzN9…="
 */
export function standardWebhookSignature(key: Uint8Array, id: string, timestamp: number, body: string | Uint8Array): string {
  return hmacOf("sha256", key, signedContent(id, timestamp, body)).toString("base64");
}

/**
 * The three Standard Webhooks headers for one attempt, signed with every given secret.
 *
 * Throws `InvalidSigningSecretError` for a secret that is not `whsec_…`, and `RangeError` for an empty secret
 * list or an id containing ".", whitespace or control characters.
 *
 * @example
 * const headers = signStandardWebhook({ id: "msg_2KWPBgLl", timestamp: new Date(), body, secrets: [current, previous] });
 * // { "webhook-id": "msg_2KWPBgLl", "webhook-timestamp": "1674087231", "webhook-signature": "v1,K5o…= v1,3Jd…=" }
 */
export function signStandardWebhook(input: SignStandardWebhookInput): StandardWebhookHeaders {
  if (input.secrets.length === 0) throw new RangeError("at least one secret is needed to sign");
  if (!SAFE_MESSAGE_ID.test(input.id)) {
    throw new RangeError("a webhook id must be non-empty and contain no '.', whitespace or control characters");
  }
  const timestamp = toUnixSeconds(input.timestamp);
  const signatures = input.secrets.map(
    (secret) => `v1,${standardWebhookSignature(decodeSigningSecret(secret), input.id, timestamp, input.body)}`,
  );
  return {
    "webhook-id": input.id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signatures.join(" "),
  };
}

/**
 * The base64 values of the `v1,` entries of a `webhook-signature` header. Other versions (`v1a` is ed25519) are
 * skipped: we hold no public keys.
 *
 * @example
 * standardWebhookV1Signatures("v1,abc= v1a,xyz= v1,def="); // ["abc=", "def="]
 */
export function standardWebhookV1Signatures(signatureHeader: string): string[] {
  const signatures: string[] = [];
  for (const item of signatureHeader.split(" ")) {
    const comma = item.indexOf(",");
    if (comma > 0 && item.slice(0, comma) === "v1" && comma < item.length - 1) signatures.push(item.slice(comma + 1));
  }
  return signatures;
}

/**
 * Whether any `v1` signature of the header was made with this secret over this id, timestamp and body. Checks
 * neither the timestamp's age nor the id's novelty: the inbound verifier and the replay guard do.
 *
 * @example
 * verifyStandardWebhook({ id, timestamp: 1674087231, body, signatureHeader: headers["webhook-signature"], secret });
 */
export function verifyStandardWebhook(input: VerifyStandardWebhookInput): boolean {
  const expected = standardWebhookSignature(decodeSigningSecret(input.secret), input.id, input.timestamp, input.body);
  let matched = false;
  // Every candidate is compared, so the time taken does not tell which position matched.
  for (const candidate of standardWebhookV1Signatures(input.signatureHeader)) {
    if (timingSafeEqualStrings(candidate, expected)) matched = true;
  }
  return matched;
}
