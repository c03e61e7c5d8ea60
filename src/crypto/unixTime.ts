/**
 * Unix timestamps in whole seconds, as every signing scheme here carries them.
 *
 * Parsing is strict (digits only, no sign, no leading zeros, no fraction) because the signed string contains the
 * header text as sent: accepting "017" would make the text we verify differ from the number we check the tolerance
 * against.
 */

/** Upper bound on digits: year 33658 in seconds. Keeps `Number` exact and stops absurd inputs early. */
const MAX_DIGITS = 12;

/**
 * Whole seconds since the epoch of a Date (floored) or of a number that already is seconds.
 *
 * @example
 * toUnixSeconds(new Date("2024-01-01T00:00:00.900Z")); // 1704067200
 */
export function toUnixSeconds(timestamp: Date | number): number {
  const seconds = timestamp instanceof Date ? Math.floor(timestamp.getTime() / 1000) : timestamp;
  if (!Number.isSafeInteger(seconds) || seconds < 0) {
    throw new RangeError("a timestamp must be a valid Date or a non-negative whole number of seconds");
  }
  return seconds;
}

/**
 * The seconds in a header value, or `undefined` unless it is a canonical non-negative decimal integer.
 *
 * @example
 * parseUnixSeconds("1704067200"); // 1704067200
 * parseUnixSeconds("1704067200.5"); // undefined
 */
export function parseUnixSeconds(text: string): number | undefined {
  if (text.length > MAX_DIGITS || !/^(0|[1-9][0-9]*)$/.test(text)) return undefined;
  return Number(text);
}
