/**
 * The `format` validators of tenants' JSON Schemas: ajv-formats' full set, with its regular expressions run on
 * RE2 (linear time) instead of the runtime's backtracking engine. Measured on Bun 1.4 with its own regexes:
 * `format: "uri"` took 4.3 s on a 64 KiB string (`http://1:1:…`), `url` is quadratic on every engine
 * (`http://a:a:…`, 8 KiB: 45 ms; 512 KiB would take minutes), `uri-template` 0.9 s on 80 KiB. Payload strings
 * are the producer's to choose, so each of these stalled the event loop for everyone.
 *
 * Kept on the native engine, because they cannot backtrack far: `duration` (its lookaheads are one character wide),
 * `hostname` (its first lookahead caps the input at 254 characters), the date and time formats (short fixed
 * patterns, then arithmetic), and `regex`, which constructs a RegExp to check its syntax but never runs it.
 */
import type { Format } from "ajv";
import { fullFormats } from "ajv-formats/dist/formats.js";
import { RE2JS } from "re2js";

const onRe2 = (regExp: RegExp): ((value: string) => boolean) => {
  const compiled = RE2JS.compile(RE2JS.translateRegExp(regExp));
  return (value) => compiled.test(value);
};

/** Formats whose regexes RE2 cannot compile (lookaround) and that need none of it; see above. */
const KEPT_NATIVE = new Set(["duration", "hostname"]);

/**
 * ajv-formats 3.0.1's `uri` regex (MIT, src/formats.ts `URI`), which it keeps private: absolute URIs (RFC 3986).
 * Copied so it runs on RE2; a test compares it with ajv-formats' own on a corpus.
 */
const URI = onRe2(
  /^(?:[a-z][a-z0-9+\-.]*:)(?:\/?\/(?:(?:[a-z0-9\-._~!$&'()*+,;=:]|%[0-9a-f]{2})*@)?(?:\[(?:(?:(?:(?:[0-9a-f]{1,4}:){6}|::(?:[0-9a-f]{1,4}:){5}|(?:[0-9a-f]{1,4})?::(?:[0-9a-f]{1,4}:){4}|(?:(?:[0-9a-f]{1,4}:){0,1}[0-9a-f]{1,4})?::(?:[0-9a-f]{1,4}:){3}|(?:(?:[0-9a-f]{1,4}:){0,2}[0-9a-f]{1,4})?::(?:[0-9a-f]{1,4}:){2}|(?:(?:[0-9a-f]{1,4}:){0,3}[0-9a-f]{1,4})?::[0-9a-f]{1,4}:|(?:(?:[0-9a-f]{1,4}:){0,4}[0-9a-f]{1,4})?::)(?:[0-9a-f]{1,4}:[0-9a-f]{1,4}|(?:(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d\d?))|(?:(?:[0-9a-f]{1,4}:){0,5}[0-9a-f]{1,4})?::[0-9a-f]{1,4}|(?:(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4})?::)|[Vv][0-9a-f]+\.[a-z0-9\-._~!$&'()*+,;=:]+)\]|(?:(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d\d?)|(?:[a-z0-9\-._~!$&'()*+,;=]|%[0-9a-f]{2})*)(?::\d*)?(?:\/(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})*)*|\/(?:(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})+(?:\/(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})*)*)?|(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})+(?:\/(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})*)*)(?:\?(?:[a-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9a-f]{2})*)?(?:#(?:[a-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9a-f]{2})*)?$/i,
);
const NOT_URI_FRAGMENT = /\/|:/;

/**
 * ajv-formats' `url` refuses private IPv4 hosts with lookaheads, which RE2 lacks: here the URL must have the
 * shape (the same regex without them) and must not be a URL whose host is such an address.
 */
const URL_SHAPE = onRe2(
  /^(?:https?|ftp):\/\/(?:\S+(?::\S*)?@)?(?:(?:[1-9]\d?|1\d\d|2[01]\d|22[0-3])(?:\.(?:1?\d{1,2}|2[0-4]\d|25[0-5])){2}(?:\.(?:[1-9]\d?|1\d\d|2[0-4]\d|25[0-4]))|(?:(?:[a-z0-9\u{00a1}-\u{ffff}]+-)*[a-z0-9\u{00a1}-\u{ffff}]+)(?:\.(?:[a-z0-9\u{00a1}-\u{ffff}]+-)*[a-z0-9\u{00a1}-\u{ffff}]+)*(?:\.(?:[a-z\u{00a1}-\u{ffff}]{2,})))(?::\d{2,5})?(?:\/[^\s]*)?$/iu,
);
const PRIVATE_IPV4_URL = onRe2(
  /^(?:https?|ftp):\/\/(?:\S+(?::\S*)?@)?(?:(?:10|127)(?:\.\d{1,3}){3}|(?:169\.254|192\.168)(?:\.\d{1,3}){2}|172\.(?:1[6-9]|2\d|3[0-1])(?:\.\d{1,3}){2})(?::\d{2,5})?(?:\/[^\s]*)?$/iu,
);

const rewritten: Record<string, Format> = {
  uri: (value: string) => NOT_URI_FRAGMENT.test(value) && URI(value),
  url: (value: string) => URL_SHAPE(value) && !PRIVATE_IPV4_URL(value),
};

/** Every format ajv-formats knows, validated in time linear in the value (see the file comment). */
export const linearTimeFormats: Record<string, Format> = Object.fromEntries(
  Object.entries(fullFormats).map(([name, format]) => [name, rewritten[name] ?? (format instanceof RegExp && !KEPT_NATIVE.has(name) ? onRe2(format) : format)]),
);
