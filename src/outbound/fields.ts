/** Request-body fields specific to outbound resources. */
import * as v from "valibot";
import { boundedArray, exactRecord, HEADER_VALUE, HEADER_VALUE_RULE } from "../http/fields.ts";
import { decodeSigningSecret } from "../crypto/secrets.ts";
import { parseTargetUrl } from "../egress/normalise.ts";
import { CHANNEL_NAME, EVENT_TYPE_NAME, EVENT_TYPE_PATTERN, MAX_CHANNEL_NAME, MAX_CHANNELS } from "./matching.ts";

/**
 * An event type's name is part of its ledger stream's (`event_type:<app id>:<name>`, 48 characters before the name),
 * which the ledger holds to 200 characters: 153 to 200 were accepted here and answered 500 when recorded.
 */
export const MAX_EVENT_TYPE_NAME = 150;

export const eventTypeNameField = v.pipe(
  v.string("expected a string"),
  v.maxLength(MAX_EVENT_TYPE_NAME, `at most ${MAX_EVENT_TYPE_NAME} characters`),
  v.regex(EVENT_TYPE_NAME, "expected letters, digits, _ and - in parts joined by dots, such as invoice.paid"),
);

export const eventTypePatternsField = v.pipe(
  boundedArray(
    v.pipe(v.string(), v.maxLength(200), v.regex(EVENT_TYPE_PATTERN, "expected an event type, a prefix.* wildcard, or *")),
    100,
    "at most 100 patterns",
    "expected an array of event types",
  ),
  v.minLength(1, "subscribe to at least one event type (use [\"*\"] for all)"),
  refusingRepeats(),
);

/** Refuses a string listed twice, naming the second place it is listed at (`channels.3`). */
function refusingRepeats() {
  return v.rawCheck<string[]>(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    // A set, not indexOf per item: the nested scan was quadratic (60,000 patterns held the event loop 3 s).
    const seen = new Set<string>();
    dataset.value.forEach((item, index) => {
      if (seen.has(item)) {
        addIssue({ message: `"${item}" is listed twice`, path: [{ type: "array", origin: "value", input: dataset.value, key: index, value: item }] });
      }
      seen.add(item);
    });
  });
}

/**
 * Channel names (Svix's): at most MAX_CHANNELS, each 1-128 letters, digits and `_ . : -`, none listed twice (Svix
 * refuses repeats too). An empty list is allowed here; events refuse it, subscriptions read it as none.
 */
export const channelsField = v.pipe(
  boundedArray(
    v.pipe(
      v.string("expected a string"),
      v.maxLength(MAX_CHANNEL_NAME, `at most ${MAX_CHANNEL_NAME} characters`),
      // The empty name fails here (one issue, not two).
      v.regex(CHANNEL_NAME, `expected 1-${MAX_CHANNEL_NAME} letters, digits, _ . : and -`),
    ),
    MAX_CHANNELS,
    `at most ${MAX_CHANNELS} channels`,
    "expected an array of channel names",
  ),
  refusingRepeats(),
);

export const labelsField = exactRecord(
  v.record(
    // No colon in keys: `GET /v1/events?label=key:value` splits at the first one.
    v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]{1,64}$/, "label keys are 1-64 characters of letters, digits, _ . -")),
    v.pipe(v.string("label values must be strings"), v.maxLength(256, "label values are at most 256 characters")),
    "expected an object of string labels",
  ),
  { maxEntries: 20, message: "at most 20 labels" },
);

/** Headers a subscription may not set: hop-by-hop, framing, and the ones hookledger signs or owns. */
const RESERVED_HEADERS = new Set([
  "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
  "transfer-encoding", "upgrade", "host", "content-length", "content-type", "user-agent", "expect",
  "webhook-id", "webhook-timestamp", "webhook-signature",
]);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;

export const customHeadersField = v.pipe(
  exactRecord(
    v.record(v.string(), v.pipe(v.string("header values must be strings"), v.maxLength(4096, "header values are at most 4096 characters"), v.regex(HEADER_VALUE, HEADER_VALUE_RULE)), "expected an object of header names to values"),
    { maxEntries: 20, message: "at most 20 headers" },
  ),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    // Header names are case-insensitive: "X-Team" and "x-team" are one header, and lower-casing kept only the last.
    const seen = new Map<string, string>();
    for (const name of Object.keys(dataset.value)) {
      const lower = name.toLowerCase();
      const at: [v.ObjectPathItem] = [{ type: "object", origin: "key", input: dataset.value, key: name, value: name }];
      if (!HEADER_NAME.test(name)) addIssue({ message: `"${name.slice(0, 100)}" is not a valid header name`, path: at });
      else if (RESERVED_HEADERS.has(lower) || lower.startsWith("x-hookledger-")) {
        addIssue({ message: `${lower} is set by hookledger (hop-by-hop, framing or signature header)`, path: at });
      } else if (seen.has(lower)) addIssue({ message: `the same header as "${seen.get(lower)}" (header names ignore case)`, path: at });
      seen.set(lower, name);
    }
  }),
  v.transform((headers) => Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]))),
);

/** Headers a hookledger-v1 signature can cover besides the subscription's own custom headers. */
export const SIGNABLE_BUILTIN_HEADERS = ["content-type", "user-agent", "x-hookledger-event-id", "x-hookledger-event-type", "x-hookledger-delivery-id", "x-hookledger-attempt"];

export const signedHeadersField = v.pipe(
  boundedArray(
    v.pipe(v.string(), v.regex(/^[!#$%&'*+^_`|~0-9A-Za-z-]{1,100}$/, "expected a header name (no dots)"), v.toLowerCase()),
    20,
    "at most 20 signed headers",
  ),
  // Header names are case-insensitive: ["content-type","CONTENT-TYPE"] was stored, and signing refused it, so
  // every delivery of the subscription stayed pending.
  v.check((names) => new Set(names).size === names.length, "a header is listed twice (header names are case-insensitive)"),
);

const keyOf = (secret: string): Uint8Array | undefined => {
  try {
    return decodeSigningSecret(secret);
  } catch {
    return undefined;
  }
};

/**
 * A signing secret a client supplies. Its key must not be one byte repeated (`whsec_` + base64 of 32 zero bytes
 * was accepted): that is a placeholder, not a secret, and anyone can forge its signatures. Secrets stored before
 * this rule still sign (the rule is the input's, not decodeSigningSecret's).
 */
export const signingSecretField = v.pipe(
  v.string(),
  v.check((secret) => keyOf(secret) !== undefined, "expected whsec_ followed by base64 of 24 to 64 random bytes"),
  v.check((secret) => {
    const key = keyOf(secret);
    return key === undefined || key.some((byte) => byte !== key[0]);
  }, "expected random bytes: this key repeats one byte"),
);

export const signatureSchemeField = v.picklist(["standard-webhooks", "hookledger-v1"], "expected standard-webhooks or hookledger-v1");

/**
 * The URL as the egress client requests it: parsed and normalised by the same function (parseTargetUrl), without
 * the fragment, which is never sent. A URL it refuses is kept as the WHATWG parser spells it; the egress check
 * then refuses it, naming the reason.
 */
function requestedUrl(text: string): string {
  const parsed = parseTargetUrl(text);
  const url = parsed.ok ? parsed.url : new URL(text);
  url.hash = "";
  return url.href;
}

/**
 * A destination URL, stored exactly as it will be requested (`http://h/a b` becomes `http://h/a%20b`, `HTTP://H:80`
 * `http://h/`, `\` a `/`, a non-ASCII host its punycode, `0x7f.1` 127.0.0.1). Stored raw, `http://h/a b` was shown
 * and audited as one URL while `/a%20b` was requested. Control characters (tab, CR, LF…) are refused rather than
 * normalised: the parser deletes them, so the URL would silently become another one.
 */
export const urlField = v.pipe(
  v.string("expected a URL"),
  v.trim(),
  v.maxLength(2048, "at most 2048 characters"),
  v.regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain control characters such as tabs or line breaks"),
  v.url("expected an absolute http(s) URL"),
  v.transform(requestedUrl),
  v.maxLength(2048, "at most 2048 characters once normalised"),
);

/** Producer-chosen event ids double as Standard Webhooks message ids: no dots, no whitespace. */
/** Producers' own ids pass through (`order.1001`, `evt_2f9c:retry-1`); `.` and `..` alone would be path segments. */
export const eventIdField = v.pipe(v.string("expected a string"), v.regex(/^(?!\.{1,2}$)[A-Za-z0-9_:.-]{1,128}$/, "1-128 characters of letters, digits, _ : . - (not . or .. alone)"));
