/** Field schemas shared by request bodies, so the same field is validated the same way everywhere. */
import * as v from "valibot";
import { decodeBase64 } from "../crypto/encoding.ts";

export const nameField = v.pipe(v.string("expected a string"), v.trim(), v.minLength(1, "must not be empty"), v.maxLength(200, "at most 200 characters"));

export const descriptionField = v.nullable(v.pipe(v.string("expected a string or null"), v.maxLength(2000, "at most 2000 characters")));

/** Keys valibot's records skip without a word (assigning `__proto__` would set an object's prototype instead). */
const SKIPPED_KEYS = ["__proto__", "constructor", "prototype"];

/** Why an input is refused before its schema sees it, and the key it is about (none: the whole value). */
interface Refusal {
  message: string;
  key?: string;
}

/** valibot's object and record schemas take an array too (it is an object to JavaScript). */
const arrayRefusals = (input: unknown): Refusal[] => (Array.isArray(input) ? [{ message: "expected an object, not an array" }] : []);

/**
 * `schema` with checks run before it: any refusal fails the value with issues of the schema's own type, so
 * `fieldErrors` names the field. The schema keeps its kind, type and entries, so the OpenAPI document shows it as
 * the schema it wraps.
 */
function refusing<TSchema extends v.GenericSchema & { readonly type: string; readonly expects: string }>(schema: TSchema, refusalsOf: (input: unknown) => Refusal[]): TSchema {
  const guarded: TSchema = {
    ...schema,
    "~run"(dataset, config) {
      const input: unknown = dataset.value;
      const refusals = refusalsOf(input);
      if (refusals.length === 0) return schema["~run"](dataset, config);
      const issues = refusals.map(({ message, key }): v.BaseIssue<unknown> => ({
        kind: "schema",
        type: schema.type,
        input,
        expected: schema.expects,
        received: Array.isArray(input) ? "Array" : typeof input === "object" && input !== null ? "Object" : typeof input,
        message,
        requirement: undefined,
        path: key === undefined ? undefined : [{ type: "object", origin: "key", input: input as Record<string, unknown>, key, value: (input as Record<string, unknown>)[key] }],
        issues: undefined,
        lang: config.lang,
        abortEarly: config.abortEarly,
        abortPipeEarly: config.abortPipeEarly,
      }));
      const failed: v.FailureDataset<v.BaseIssue<unknown>> = { typed: false, value: input, issues: [issues[0] as v.BaseIssue<unknown>, ...issues.slice(1)] };
      return failed as ReturnType<TSchema["~run"]>;
    },
    // The Standard Schema entry point the spread copied runs the plain schema; this one runs the checks too.
    get "~standard"() {
      const validate = (value: unknown) => guarded["~run"]({ value }, v.getGlobalConfig());
      return { ...schema["~standard"], validate: validate as TSchema["~standard"]["validate"] };
    },
  };
  return guarded;
}

/**
 * A record schema that refuses what valibot's `v.record` would change without an issue: a key it skips
 * (`__proto__`, `constructor`, `prototype` — a label or metadata key so named vanished behind a 2xx) and an array
 * (read as an object keyed "0", "1", …). More than `maxEntries` keys are refused first, as one issue naming the
 * record, before any entry is validated (see boundedArray: 60,000 entries answered 4 MB of errors), and the limit is
 * the pipe's `maxEntries` too, so the OpenAPI document shows it. Anything else is the record's to decide.
 *
 * @example
 * const labels = exactRecord(v.record(v.string(), v.string()), { maxEntries: 20, message: "at most 20 labels" });
 * v.safeParse(labels, JSON.parse('{"constructor":"x"}')).success; // false: "constructor" cannot be used as a key here
 */
export function exactRecord<TSchema extends v.RecordSchema<v.GenericSchema<string, string>, v.GenericSchema, v.ErrorMessage<v.RecordIssue> | undefined>>(
  schema: TSchema,
  limit: { maxEntries: number; message: string },
) {
  const record = refusing(schema, (input) => {
    if (typeof input !== "object" || input === null || Array.isArray(input)) return arrayRefusals(input);
    if (hasMoreKeysThan(input, limit.maxEntries)) return [{ message: limit.message }];
    return SKIPPED_KEYS.filter((key) => Object.hasOwn(input, key)).map((key) => ({ message: `"${key}" cannot be used as a key here`, key }));
  });
  return v.pipe(record, v.maxEntries(limit.maxEntries, limit.message));
}

/** Whether `input` has more than `max` own enumerable keys, counting no further than max + 1. */
function hasMoreKeysThan(input: object, max: number): boolean {
  let count = 0;
  for (const key in input) {
    if (Object.hasOwn(input, key) && ++count > max) return true;
  }
  return false;
}

/**
 * `v.array(item)` that refuses more than `max` items before any item is validated: one issue naming the array, in
 * constant time. valibot validates every item of an array (and runs the pipe's checks) even after its `maxLength`
 * failed, and reports each failing item: 100,000 items under the 1 MB body limit held the event loop for seconds
 * and answered megabytes of errors. `maxLength` stays in the pipe so the OpenAPI document shows `maxItems`.
 *
 * @example
 * const scopes = boundedArray(v.string(), 20, "at most 20 scopes");
 * v.safeParse(scopes, Array(21).fill(1)).issues?.length; // 1: "at most 20 scopes", the items are not looked at
 */
export function boundedArray<TItem extends v.GenericSchema>(item: TItem, max: number, message: string, typeMessage?: string) {
  const array = refusing(v.array(item, typeMessage), (input) => (Array.isArray(input) && input.length > max ? [{ message }] : []));
  return v.pipe(array, v.maxLength(max, message));
}

/**
 * `v.strictObject` for request input: an array is refused instead of read as an object without fields (`"quotas":
 * []` cleared every quota with 200, `"secrets": [[]]` made a secret with 201).
 *
 * @example
 * v.safeParse(exactObject({ name: v.optional(v.string()) }), []).success; // false: expected an object, not an array
 */
export function exactObject<const TEntries extends v.ObjectEntries, const TMessage extends v.ErrorMessage<v.StrictObjectIssue> | undefined = undefined>(
  entries: TEntries,
  message?: TMessage,
): v.StrictObjectSchema<TEntries, TMessage> {
  return refusing(v.strictObject(entries, message as TMessage), arrayRefusals);
}

export const metadataField = exactRecord(
  v.record(
    v.pipe(v.string(), v.minLength(1, "keys must not be empty"), v.maxLength(64, "keys are at most 64 characters")),
    v.pipe(v.string("metadata values must be strings"), v.maxLength(1024, "values are at most 1024 characters")),
    "expected an object of string values",
  ),
  { maxEntries: 50, message: "at most 50 keys" },
);

/**
 * Binary data as canonical, padded, standard base64 (RFC 4648 §4). `Buffer.from(text, "base64")` decodes what it
 * can and drops the rest without a word: `"1"` was accepted as an empty payload and `"AAAAA"` as three bytes, so
 * the bytes delivered were not the ones sent. A text must be its own bytes' encoding.
 */
export const base64Field = v.pipe(
  v.string("expected base64 text"),
  v.check((text) => decodeBase64(text) !== undefined, "expected standard base64: A–Z, a–z, 0–9, + and /, padded with = to a multiple of 4 characters"),
);

export const uuidField = v.pipe(v.string("expected a UUID"), v.uuid("expected a UUID"), v.toLowerCase());

/**
 * The instants a timestamp field accepts: years 1 to 9999 in UTC, what Postgres and RFC 3339 both write with four
 * digits. An offset can carry a four-digit year past either end (`0001-01-01T00:00:00+14:00` is in year 0), which
 * the database refused, so the bound is checked on the instant, not on the text.
 */
const EARLIEST_INSTANT = Date.parse("0001-01-01T00:00:00.000Z");
const LATEST_INSTANT = Date.parse("9999-12-31T23:59:59.999Z");

/**
 * Whether an instant lies within years 1 to 9999 in UTC: the one rule for every instant the API takes, whether a
 * timestamp field or the sort key of a pagination cursor (pagination.ts). A cursor keyed at year 0 answered 500.
 *
 * @example
 * instantInRange(new Date("0000-01-01T00:00:00Z")); // false
 */
export function instantInRange(date: Date): boolean {
  const time = date.getTime();
  return time >= EARLIEST_INSTANT && time <= LATEST_INSTANT;
}

const RFC_3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):(\d{2}))$/i;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Whether an RFC 3339 timestamp names a day and time that exist: a month of 1-12, a day the month has (29 February
 * in leap years only), hours 0-23, minutes and seconds 0-59, an offset under 24 hours. The runtime's Date reads
 * `2026-02-30` as 2 March and `T24:00:00` as the next midnight, so they were stored as another instant; a leap
 * second (`:60`) is refused too. Text of another shape is the format check's to refuse, so this passes it.
 *
 * @example
 * namesRealTime("2026-02-30T00:00:00Z"); // false
 * namesRealTime("2028-02-29T23:59:59+14:00"); // true
 */
export function namesRealTime(text: string): boolean {
  const parts = RFC_3339.exec(text);
  if (!parts) return true;
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = [1, 2, 3, 4, 5, 6, 9, 10].map((i) => Number(parts[i] ?? 0)) as [number, number, number, number, number, number, number, number];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
  return day >= 1 && day <= days && hour <= 23 && minute <= 59 && second <= 59 && offsetHours <= 23 && offsetMinutes <= 59;
}

/** RFC 3339 timestamp with an explicit offset. */
export const timestampField = v.pipe(
  v.string("expected an RFC 3339 timestamp"),
  v.regex(RFC_3339, "expected an RFC 3339 timestamp such as 2026-01-31T12:00:00Z"),
  v.check(namesRealTime, "not a real date and time (months 1-12, days the month has, hours 0-23, minutes and seconds 0-59)"),
  v.transform((value) => new Date(value)),
  v.check(instantInRange, "must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z"),
);

/**
 * An HTTP header value as RFC 9110 allows it: visible ASCII, spaces, tabs and obs-text (bytes 0x80-0xFF, here the
 * Latin-1 characters). No line breaks, NUL or other control characters, and no character beyond U+00FF: a header
 * carries bytes, and the runtime refuses to build one with such a character (which answered 500).
 */
/**
 * A media type as a Content-Type header may carry it (`type/subtype` and `; name=value` parameters, a value quoted
 * or a token): what POST /v1/events accepts for `content_type`, and what an ingress receipt's Content-Type must be to
 * become an event's (a DEL byte in it made every delivery of the event fail).
 */
export const MEDIA_TYPE = /^[\w.+-]+\/[\w.+-]+(\s*;\s*[\w.+-]+=("[\t\x20\x21\x23-\x7e\x80-\xff]*"|[\w.+-]+))*$/;
export const MAX_MEDIA_TYPE_LENGTH = 200;

export const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
export const HEADER_VALUE_RULE = "header values are visible ASCII, spaces, tabs or Latin-1 characters (RFC 9110): no line breaks, NUL, control characters or characters beyond U+00FF";
