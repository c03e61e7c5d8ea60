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
 *
 * Every check is counted (validationWork.ts countedMatch): its time against the validation's matching budget, and
 * its worst case first. These regexes are ours, not a tenant's, and their DFAs stay small: on 100,000-character
 * hostile strings (every shape a sweep tried) the slowest, `uri-template`, took 10 ms — 0.1 µs a character, which
 * FORMAT_WORK_PER_CHARACTER bounds (in the units of MAX_MATCH_WORK, so no string of an event is refused for its
 * length alone). `regex` is different: constructing a RegExp is quadratic in its named groups on JavaScriptCore
 * (8,000 groups in 87 KB: 11.5 s), so its worst case is the square of the length.
 */
import type { Format } from "ajv";
import { fullFormats } from "ajv-formats/dist/formats.js";
import { RE2JS } from "re2js";
import { countedMatch } from "./validationWork.ts";

/** A format check's worst case per character, in MAX_MATCH_WORK's units (16 ns each): 0.13 µs. */
const FORMAT_WORK_PER_CHARACTER = 8;
const formatWorstCase = (length: number) => length * FORMAT_WORK_PER_CHARACTER;

/** A format that runs natively, counted: its time always, and its worst case first. */
const countedNative = (check: (value: string) => boolean, name: string, worstCase: (length: number) => number = formatWorstCase) => {
  const what = `format ${name}`;
  return (value: string) => countedMatch(worstCase(value.length), what, value.length, () => check(value));
};

const onRe2 = (regExp: RegExp, name: string): ((value: string) => boolean) => {
  const compiled = RE2JS.compile(RE2JS.translateRegExp(regExp));
  return countedNative((value) => compiled.test(value), name);
};

/**
 * Worst case of checking a `regex` value, in the units of MAX_MATCH_WORK: its length squared, scaled so that the
 * cap falls near 100 ms on Bun (a 4,096-character pattern of named groups constructs in ~15-45 ms; 9,890 in 80-220 ms).
 */
const regexWorstCase = (length: number) => (length * length) / 4;


/** Formats whose regexes RE2 cannot compile (lookaround) and that need none of it; see above. */
const KEPT_NATIVE = new Set(["duration", "hostname"]);

/**
 * ajv-formats 3.0.1's `uri` regex (MIT, src/formats.ts `URI`), which it keeps private: absolute URIs (RFC 3986).
 * Copied so it runs on RE2; a test compares it with ajv-formats' own on a corpus.
 */
const URI = onRe2(
  /^(?:[a-z][a-z0-9+\-.]*:)(?:\/?\/(?:(?:[a-z0-9\-._~!$&'()*+,;=:]|%[0-9a-f]{2})*@)?(?:\[(?:(?:(?:(?:[0-9a-f]{1,4}:){6}|::(?:[0-9a-f]{1,4}:){5}|(?:[0-9a-f]{1,4})?::(?:[0-9a-f]{1,4}:){4}|(?:(?:[0-9a-f]{1,4}:){0,1}[0-9a-f]{1,4})?::(?:[0-9a-f]{1,4}:){3}|(?:(?:[0-9a-f]{1,4}:){0,2}[0-9a-f]{1,4})?::(?:[0-9a-f]{1,4}:){2}|(?:(?:[0-9a-f]{1,4}:){0,3}[0-9a-f]{1,4})?::[0-9a-f]{1,4}:|(?:(?:[0-9a-f]{1,4}:){0,4}[0-9a-f]{1,4})?::)(?:[0-9a-f]{1,4}:[0-9a-f]{1,4}|(?:(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d\d?))|(?:(?:[0-9a-f]{1,4}:){0,5}[0-9a-f]{1,4})?::[0-9a-f]{1,4}|(?:(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4})?::)|[Vv][0-9a-f]+\.[a-z0-9\-._~!$&'()*+,;=:]+)\]|(?:(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d\d?)|(?:[a-z0-9\-._~!$&'()*+,;=]|%[0-9a-f]{2})*)(?::\d*)?(?:\/(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})*)*|\/(?:(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})+(?:\/(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})*)*)?|(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})+(?:\/(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})*)*)(?:\?(?:[a-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9a-f]{2})*)?(?:#(?:[a-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9a-f]{2})*)?$/i,
  "uri",
);
const NOT_URI_FRAGMENT = /\/|:/;

/**
 * ajv-formats' `url` refuses private IPv4 hosts with lookaheads, which RE2 lacks: here the URL must have the
 * shape (the same regex without them) and must not be a URL whose host is such an address.
 */
const URL_SHAPE = onRe2(
  /^(?:https?|ftp):\/\/(?:\S+(?::\S*)?@)?(?:(?:[1-9]\d?|1\d\d|2[01]\d|22[0-3])(?:\.(?:1?\d{1,2}|2[0-4]\d|25[0-5])){2}(?:\.(?:[1-9]\d?|1\d\d|2[0-4]\d|25[0-4]))|(?:(?:[a-z0-9\u{00a1}-\u{ffff}]+-)*[a-z0-9\u{00a1}-\u{ffff}]+)(?:\.(?:[a-z0-9\u{00a1}-\u{ffff}]+-)*[a-z0-9\u{00a1}-\u{ffff}]+)*(?:\.(?:[a-z\u{00a1}-\u{ffff}]{2,})))(?::\d{2,5})?(?:\/[^\s]*)?$/iu,
  "url",
);
const PRIVATE_IPV4_URL = onRe2(
  /^(?:https?|ftp):\/\/(?:\S+(?::\S*)?@)?(?:(?:10|127)(?:\.\d{1,3}){3}|(?:169\.254|192\.168)(?:\.\d{1,3}){2}|172\.(?:1[6-9]|2\d|3[0-1])(?:\.\d{1,3}){2})(?::\d{2,5})?(?:\/[^\s]*)?$/iu,
  "url",
);

const rewritten: Record<string, Format> = {
  uri: (value: string) => NOT_URI_FRAGMENT.test(value) && URI(value),
  url: (value: string) => URL_SHAPE(value) && !PRIVATE_IPV4_URL(value),
};

/** A format as ajv-formats defines it, its check counted (RE2 for regexes but those KEPT_NATIVE; see above). */
function counted(name: string, format: Format): Format {
  if (typeof format === "string" || typeof format === "boolean") return format;
  if (format instanceof RegExp) return KEPT_NATIVE.has(name) ? countedNative((value) => format.test(value), name) : onRe2(format, name);
  if (typeof format === "function") return countedNative(format as (value: string) => boolean, name, name === "regex" ? regexWorstCase : undefined);
  const validate = format.validate;
  if (typeof validate !== "function" || format.type === "number") return format;
  return { ...format, validate: countedNative(validate as (value: string) => boolean, name) } as Format;
}

/** Every format ajv-formats knows, validated in time linear in the value (see the file comment), each check counted. */
export const linearTimeFormats: Record<string, Format> = Object.fromEntries(
  Object.entries(fullFormats).map(([name, format]) => [name, rewritten[name] ?? counted(name, format)]),
);
