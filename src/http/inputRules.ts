/**
 * What text and JSON the API accepts, decided once for every route (README, "Input rules").
 *
 * Postgres refuses U+0000 in `text` and `jsonb` and unpaired UTF-16 surrogates in `jsonb`, and values nested
 * thousands deep overflow the stack of every recursive step after JSON.parse (valibot, canonical hashing, Ajv,
 * postgres.js serialisation). Each of those used to answer 500; refusing them here, before any of those steps
 * touches the value, turns them into a 400 that names the field. The walk below is iterative for that reason.
 */
import type { FieldError } from "./problem.ts";

/**
 * Levels of objects and arrays a JSON body may nest below its top-level value, so an event's `payload` may itself
 * be this deep. Far past anything a webhook needs, far below what recursive code can take (20,000 overflowed).
 */
export const MAX_JSON_NESTING = 256;

const NUL = "\u0000";
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const MAX_REPORTED = 20;

/** Why `text` cannot be stored, or undefined when it can. */
export function textHazard(text: string): string | undefined {
  if (text.includes(NUL)) return "contains the NUL character (U+0000), which cannot be stored as text";
  const surrogate = LONE_SURROGATE.exec(text);
  if (surrogate) return `contains an unpaired UTF-16 surrogate (U+${surrogate[0].charCodeAt(0).toString(16).toUpperCase()}), which is not valid Unicode`;
  return undefined;
}

/**
 * The text rules applied to named text values (query parameters, console form fields): one error per pair whose
 * name or value cannot be stored, naming the field as `prefix` + name (the name's own hazards shown as `?`).
 *
 * @example
 * textFieldHazards([["name", "a\u0000b"]], "query."); // [{ field: "query.name", message: "contains the NUL character …" }]
 */
export function textFieldHazards(pairs: Iterable<readonly [string, string]>, prefix = ""): FieldError[] {
  const errors: FieldError[] = [];
  for (const [name, value] of pairs) {
    const hazard = textHazard(name) ?? textHazard(value);
    if (hazard) errors.push({ field: `${prefix}${name.replace(/[\u0000\uD800-\uDFFF]/g, "?")}`, message: hazard });
  }
  return errors;
}

/** A key as it can be shown back in a field name: hazards spelled out, long keys cut. */
function displayKey(key: string | number): string {
  if (typeof key === "number") return String(key);
  const shown = key.replace(/\u0000|[\uD800-\uDFFF]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return shown.length > 64 ? `${shown.slice(0, 61)}...` : shown;
}

interface Visit {
  value: unknown;
  key: string | number | undefined;
  parent: Visit | undefined;
  /** Nesting level of the container this value sits in. */
  depth: number;
}

/** The dotted field name of a visited value, like valibot's (`metadata.region`, `payload.items.3`), kept short. */
function fieldOf(visit: Visit, prefix: string): string {
  const keys: string[] = [];
  for (let at: Visit | undefined = visit; at?.key !== undefined; at = at.parent) keys.push(displayKey(at.key));
  keys.reverse();
  const shown = keys.length > 8 ? [...keys.slice(0, 5), `...(${keys.length - 7} levels)...`, ...keys.slice(-2)] : keys;
  return [prefix, ...shown].filter(Boolean).join(".") || "(body)";
}

/**
 * Every reason a parsed JSON value cannot be accepted: text hazards in keys and strings, numbers that overflowed
 * to Infinity (JSON.stringify would store them as null), numbers that underflowed to 0 (in a copy marked by
 * `markSpans`, each is the string `underflowMark`), and containers nested past `maxDepth`. A request body's
 * own top-level object is level 0 (`rootLevel: 0`), so the `payload` inside it is level 1, like a payload checked
 * on its own (`rootLevel: 1`). At most 20 are reported.
 *
 * @example
 * jsonHazards(JSON.parse('{"name":"a\\u0000b"}'), { maxDepth: 256, rootLevel: 0 }); // [{ field: "name", message: "contains the NUL character …" }]
 */
export function jsonHazards(root: unknown, options: { maxDepth: number; rootLevel: 0 | 1; prefix?: string; underflowMark?: string }): FieldError[] {
  const prefix = options.prefix ?? "";
  const errors: FieldError[] = [];
  // A value is checked where it is met; only containers are queued, and a Visit is built for a leaf only when it
  // is reported: a Visit per item made 500,000 numbers take 110-230 ms to check.
  const inspect = (value: unknown, key: string | number | undefined, parent: Visit | undefined, depth: number): void => {
    const at = (): Visit => ({ value, key, parent, depth });
    if (typeof key === "string") {
      const hazard = textHazard(key);
      if (hazard) errors.push({ field: fieldOf(at(), prefix), message: `the key ${hazard}` });
    }
    if (typeof value === "string") {
      const hazard = value === options.underflowMark ? UNDERFLOW_RULE : textHazard(value);
      if (hazard) errors.push({ field: fieldOf(at(), prefix), message: hazard });
    } else if (typeof value === "number") {
      if (!Number.isFinite(value)) errors.push({ field: fieldOf(at(), prefix), message: "the number is too large to represent (beyond ±1.8e308)" });
    } else if (typeof value === "object" && value !== null) {
      if (depth + 1 > options.maxDepth) errors.push({ field: fieldOf(at(), prefix), message: `nests deeper than ${options.maxDepth} levels of objects and arrays` });
      else met.push(at());
    }
  };
  const met: Visit[] = [];
  inspect(root, undefined, undefined, options.rootLevel - 1);
  const pending = met.splice(0);
  while (pending.length > 0 && errors.length < MAX_REPORTED) {
    const container = pending.pop() as Visit;
    const value = container.value as object;
    const depth = container.depth + 1;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length && errors.length < MAX_REPORTED; i++) inspect(value[i], i, container, depth);
    } else {
      for (const key of Object.keys(value)) {
        if (errors.length >= MAX_REPORTED) break;
        inspect((value as Record<string, unknown>)[key], key, container, depth);
      }
    }
    // Queued in reverse, so the containers met are walked in document order.
    while (met.length > 0) pending.push(met.pop() as Visit);
  }
  return errors.slice(0, MAX_REPORTED);
}

const UNDERFLOW_RULE = "the number is too small to represent (not zero, but nearer zero than ±4.9e-324: it would be read as 0)";

/**
 * Number literals in JSON text that are not zero but that JSON.parse reads as 0 (`1e-400`, below ±4.9e-324): once
 * parsed, such a number cannot be told from a written 0, so a quota of `1e-400` was stored as a quota of 0 and an
 * `overlap_seconds` of `1e-400` cut over at once. Found in the text, in one linear pass over `text`, which must be
 * JSON that parsed (each literal is then a well-formed number outside any string). Only a literal with a negative
 * exponent or more than 300 characters can underflow, and only those are converted.
 *
 * @example
 * underflowingNumbers('{"a":1e-400,"b":"1e-400","c":0e-400}'); // [[5, 11]]
 */
export function underflowingNumbers(text: string): [number, number][] {
  const found: [number, number][] = [];
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x22) {
      i = closingQuote(text, i);
    } else if (code === 0x2d || (code >= 0x30 && code <= 0x39)) {
      const start = i;
      // Past the first character, a minus sign can only be an exponent's.
      let negativeExponent = false;
      for (let next = text.charCodeAt(i + 1); isNumberChar(next); next = text.charCodeAt(++i + 1)) negativeExponent ||= next === 0x2d;
      if ((negativeExponent || i + 1 - start > 300) && readsAsZeroButIsNot(text.slice(start, i + 1))) {
        // No more are reported than jsonHazards reports.
        if (found.push([start, i + 1]) >= MAX_REPORTED) break;
      }
    }
  }
  return found;
}

/** Offset of the quote that closes the JSON string opened at `open` (a quote is escaped by an odd run of `\`). */
function closingQuote(text: string, open: number): number {
  for (let at = text.indexOf('"', open + 1); at >= 0; at = text.indexOf('"', at + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
  return text.length;
}

const REPEATED_NAME_RULE = "the name appears more than once in this object (JSON.parse would keep the last one silently, a proxy or another parser the first): send it once";

interface Container {
  /** The names seen so far, for an object; undefined for an array. */
  names: Set<string> | undefined;
  /** What the container is reached by in its parent: a member name or an item index (none for the root). */
  via: string | number | undefined;
  /** The current member's name, or the current item's index. */
  current: string | number;
  /** In an object: the next string is a member name. */
  expectName: boolean;
}

/**
 * Names that appear twice in one object of JSON `text`, which must be JSON that parsed: `{"scopes":["events:read"],
 * "scopes":["admin"]}` was read as its last `scopes`, while a gateway or log that reads the first sees another
 * request — the kind of disagreement request smuggling is made of. One linear pass over the text; at most 20.
 *
 * @example
 * repeatedNames('{"a":1,"b":{"c":2,"c":3}}'); // [{ field: "b.c", message: "the name appears more than once …" }]
 */
export function repeatedNames(text: string): FieldError[] {
  const errors: FieldError[] = [];
  const open: Container[] = [];
  for (let i = 0; i < text.length && errors.length < MAX_REPORTED; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x22) {
      const end = closingQuote(text, i);
      const top = open.at(-1);
      if (top?.names && top.expectName) {
        const literal = text.slice(i, end + 1);
        const name = literal.includes("\\") ? (JSON.parse(literal) as string) : literal.slice(1, -1);
        if (top.names.has(name)) errors.push({ field: fieldAt(open, name), message: REPEATED_NAME_RULE });
        top.names.add(name);
        top.current = name;
        top.expectName = false;
      }
      i = end;
    } else if (code === 0x7b || code === 0x5b) {
      open.push({ names: code === 0x7b ? new Set() : undefined, via: open.at(-1)?.current, current: 0, expectName: code === 0x7b });
    } else if (code === 0x7d || code === 0x5d) {
      open.pop();
    } else if (code === 0x2c) {
      const top = open.at(-1);
      if (top?.names) top.expectName = true;
      else if (top) top.current = (top.current as number) + 1;
    }
  }
  return errors;
}

/** The dotted field name of member `name` of the innermost open container, shortened as fieldOf does. */
function fieldAt(open: readonly Container[], name: string): string {
  const keys = [...open.slice(1).map((container) => displayKey(container.via as string | number)), displayKey(name)];
  const shown = keys.length > 8 ? [...keys.slice(0, 5), `...(${keys.length - 7} levels)...`, ...keys.slice(-2)] : keys;
  return shown.join(".");
}

/** Digits, sign, point and exponent: what a JSON number literal is made of. */
const isNumberChar = (code: number): boolean => (code >= 0x30 && code <= 0x39) || code === 0x2e || code === 0x2d || code === 0x2b || code === 0x65 || code === 0x45;

/** Whether a number literal has a non-zero digit before its exponent and still converts to 0. */
function readsAsZeroButIsNot(literal: string): boolean {
  const exponentAt = literal.search(/[eE]/);
  return /[1-9]/.test(exponentAt < 0 ? literal : literal.slice(0, exponentAt)) && Number(literal) === 0;
}

/**
 * A copy of JSON `text` with each literal at `spans` replaced by the string `mark`, so a walk of the parsed copy
 * (jsonHazards with `underflowMark`) names the field each one sits in.
 */
export function markSpans(text: string, spans: readonly [number, number][], mark: string): string {
  const quoted = JSON.stringify(mark);
  let marked = "";
  let from = 0;
  for (const [start, end] of spans) {
    marked += text.slice(from, start) + quoted;
    from = end;
  }
  return marked + text.slice(from);
}

/** The string a number that underflowed stands for in a marked copy (a NUL is refused anyway, so none is sent). */
export const UNDERFLOW_MARK = "\u0000hookledger:number-underflow";

/**
 * Whether containers nest deeper than `maxDepth` levels (the root container is level 1), found without
 * recursion; for values that did not come through a request body, such as published inbound webhooks.
 */
export function nestsDeeperThan(root: unknown, maxDepth: number): boolean {
  const pending: [unknown, number][] = [[root, 0]];
  while (pending.length > 0) {
    const [value, outer] = pending.pop() as [unknown, number];
    if (typeof value !== "object" || value === null) continue;
    if (outer + 1 > maxDepth) return true;
    for (const item of Array.isArray(value) ? value : Object.values(value)) pending.push([item, outer + 1]);
  }
  return false;
}

/**
 * Whether every number in a parsed value is finite, found without recursion. JSON.parse makes a number beyond
 * ±1.8e308 (`1e400`) Infinity, which JSON.stringify writes as null: such a value cannot be shown as the JSON it was.
 */
export function numbersAllFinite(root: unknown): boolean {
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === "number") {
      if (!Number.isFinite(value)) return false;
    } else if (typeof value === "object" && value !== null) {
      for (const item of Array.isArray(value) ? value : Object.values(value)) pending.push(item);
    }
  }
  return true;
}

/**
 * Offset of the first byte that does not start a well-formed UTF-8 sequence (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF), or -1; to say where a body that failed to decode went wrong.
 */
export function firstInvalidUtf8Byte(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i] as number;
    const length = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
    if (length === 0) return i;
    // Only the second byte's range depends on the lead; E0/F0 exclude overlong forms, ED surrogates, F4 > U+10FFFF.
    const low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k < length; k++) {
      const next = bytes[i + k];
      if (next === undefined || next < (k === 1 ? low : 0x80) || next > (k === 1 ? high : 0xbf)) return i;
    }
    i += length;
  }
  return -1;
}
