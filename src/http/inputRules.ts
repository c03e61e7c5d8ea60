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
 * to Infinity (JSON.stringify would store them as null), and containers nested past `maxDepth`. A request body's
 * own top-level object is level 0 (`rootLevel: 0`), so the `payload` inside it is level 1, like a payload checked
 * on its own (`rootLevel: 1`). At most 20 are reported.
 *
 * @example
 * jsonHazards(JSON.parse('{"name":"a\\u0000b"}'), { maxDepth: 256, rootLevel: 0 }); // [{ field: "name", message: "contains the NUL character …" }]
 */
export function jsonHazards(root: unknown, options: { maxDepth: number; rootLevel: 0 | 1; prefix?: string }): FieldError[] {
  const prefix = options.prefix ?? "";
  const errors: FieldError[] = [];
  const pending: Visit[] = [{ value: root, key: undefined, parent: undefined, depth: options.rootLevel - 1 }];
  while (pending.length > 0 && errors.length < MAX_REPORTED) {
    const visit = pending.pop() as Visit;
    if (typeof visit.key === "string") {
      const hazard = textHazard(visit.key);
      if (hazard) errors.push({ field: fieldOf(visit, prefix), message: `the key ${hazard}` });
    }
    const { value } = visit;
    if (typeof value === "string") {
      const hazard = textHazard(value);
      if (hazard) errors.push({ field: fieldOf(visit, prefix), message: hazard });
    } else if (typeof value === "number") {
      if (!Number.isFinite(value)) errors.push({ field: fieldOf(visit, prefix), message: "the number is too large to represent (beyond ±1.8e308)" });
    } else if (typeof value === "object" && value !== null) {
      const depth = visit.depth + 1;
      if (depth > options.maxDepth) {
        errors.push({ field: fieldOf(visit, prefix), message: `nests deeper than ${options.maxDepth} levels of objects and arrays` });
        continue;
      }
      const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((item, index) => [index, item]) : Object.entries(value);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, item] = entries[i] as [string | number, unknown];
        pending.push({ value: item, key, parent: visit, depth });
      }
    }
  }
  return errors;
}

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
