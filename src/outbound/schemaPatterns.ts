/**
 * Regular expressions from tenants' JSON Schemas (`pattern`, `patternProperties`) run on RE2 (re2js, pure JS),
 * whose matching time is linear in the input. JavaScriptCore and V8 backtrack: `^(a+)+$` against 28 × "a" + "!"
 * held Bun's event loop ~500 ms per event, and each 2 more characters multiplied that by ~4 on V8.
 *
 * A pattern must be valid ECMAScript (what JSON Schema specifies, with the `u` flag as Ajv used) and compile on
 * RE2, which has no backreferences or lookaround; those are refused when the event type is saved. Linear is not
 * free: when its DFA gives up, re2js costs about 0.2 µs per character per program instruction (`\w{1000}` over
 * a 512 KiB string: 80-270 ms), and compiling costs time in proportion to the unrolled program (`(.*a){1000}`
 * repeated 90 times in 1,000 characters took 2.5 s). So each pattern's size is bounded before it is compiled,
 * from its text, and after, from the program RE2 built.
 */
import { RE2JS, RE2JSSyntaxException } from "re2js";
import type { SchemaNode, SchemaProblem } from "./schemaGraph.ts";

export const MAX_PATTERN_LENGTH = 1000;
/** RE2 program instructions per pattern; `\w{999}` fits. */
export const MAX_PATTERN_PROGRAM = 2000;
/** RE2 program instructions of all the patterns of one schema together. */
export const MAX_SCHEMA_PATTERN_PROGRAM = 20_000;
const MAX_REPORTED = 20;

export type CompiledPattern = { ok: true; regExp: RE2JS; size: number } | { ok: false; reason: string };

const tooLarge = `expands to more than ${MAX_PATTERN_PROGRAM} RE2 instructions; use smaller repetition counts`;

/**
 * An upper bound, from the text alone, of the atoms a pattern unrolls to (`(ab){3}` is 6): RE2 compiles the
 * unrolled form, so this refuses the expensive ones before paying for their compilation. Escapes and classes
 * count as one atom, which is all a bound needs.
 */
export function unrolledSize(pattern: string): number {
  const groups: number[] = [0];
  let last = 0;
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    const top = groups.length - 1;
    if (char === "\\") {
      const braced = /^[upPx]\{[^}]*\}/.exec(pattern.slice(i + 1, i + 40));
      i += braced ? braced[0].length : 1;
    } else if (char === "[") {
      for (i++; i < pattern.length && pattern[i] !== "]"; i++) if (pattern[i] === "\\") i++;
    } else if (char === "(") {
      groups.push(0);
      last = 0;
      continue;
    } else if (char === ")" && groups.length > 1) {
      last = groups.pop() as number;
      groups[top - 1] = (groups[top - 1] as number) + last;
      continue;
    } else if (char === "|") {
      last = 0;
      continue;
    } else if (char === "*" || char === "+" || char === "?") {
      groups[top] = (groups[top] as number) + 1;
      continue;
    } else if (char === "{") {
      const counted = /^\{(\d{1,9})(,(\d{0,9}))?\}/.exec(pattern.slice(i, i + 24));
      if (counted) {
        const min = Number(counted[1]);
        const max = counted[2] === undefined ? min : counted[3] === "" ? min + 1 : Number(counted[3]);
        const copies = Math.max(min, max, 1);
        groups[top] = (groups[top] as number) + last * (copies - 1);
        last *= copies;
        i += counted[0].length - 1;
        continue;
      }
    }
    groups[top] = (groups[top] as number) + 1;
    last = 1;
  }
  return groups.reduce((sum, size) => sum + size, 0);
}

/** ECMAScript's white space and line terminators (what `\s` matches there), in RE2's syntax, for inside a class. */
const ECMASCRIPT_SPACE = "\\t\\n\\v\\f\\r\\x{feff}\\x{2028}\\x{2029}\\p{Zs}";

/**
 * The pattern with `\s`, `\S` and `.` spelt as ECMAScript defines them, which JSON Schema specifies: RE2's `\s` is
 * ASCII white space only (`^\S+$` accepted "a\u00a0b" and "a\u3000b") and its `.` matches `\r`, U+2028 and U+2029.
 * Inside a class `\s` becomes the same set; `\S` inside a class keeps RE2's meaning (a class cannot hold a negated
 * one). Classes end at the first unescaped `]`, as in ECMAScript with the `u` flag.
 *
 * @example
 * withEcmaScriptClasses("^\\S+$"); // "^[^\\t\\n…\\p{Zs}]+$"
 */
export function withEcmaScriptClasses(pattern: string): string {
  let out = "";
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char === "\\") {
      const next = pattern[i + 1] ?? "";
      i++;
      if (next === "s") out += inClass ? ECMASCRIPT_SPACE : `[${ECMASCRIPT_SPACE}]`;
      else if (next === "S" && !inClass) out += `[^${ECMASCRIPT_SPACE}]`;
      else out += `\\${next}`;
    } else if (inClass) {
      if (char === "]") inClass = false;
      out += char;
    } else if (char === "[") {
      inClass = true;
      out += char;
      // `[^` opens a negated class; the `^` is not a character of it.
      if (pattern[i + 1] === "^") out += pattern[++i];
    } else {
      out += char === "." ? "[^\\n\\r\\x{2028}\\x{2029}]" : char;
    }
  }
  return out;
}

/** `\1` or `\k<name>`: valid ECMAScript that RE2 cannot run (and re2js would read `\k` as a literal k). */
function hasBackreference(pattern: string): boolean {
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] !== "\\") continue;
    const next = pattern[i + 1] ?? "";
    if (/[1-9k]/.test(next)) return true;
    i++;
  }
  return false;
}

function describeSyntaxError(error: unknown): string {
  if (!(error instanceof RE2JSSyntaxException)) return "is not a pattern RE2 can compile";
  const at = error.input ?? "";
  if (/^\(\?<?[=!]/.test(at)) return "uses lookahead or lookbehind ((?=…), (?!…), (?<=…), (?<!…)), which cannot run in linear time and is not supported";
  const where = at ? ` at \`${at.slice(0, 40)}\`` : "";
  if (error.error === "invalid repeat count") return `repeats more than RE2 allows (1000 times, nested repetitions multiplied)${where}`;
  return `is not supported by RE2: ${error.error}${where}`;
}

/**
 * Compiles a tenant's pattern for matching in linear time, or says in our words why it cannot be used.
 *
 * @example
 * compilePattern("^[A-Z]{3}$"); // { ok: true, regExp, size: 6 }
 * compilePattern("(a)\\1");      // { ok: false, reason: "uses a backreference …" }
 */
export function compilePattern(pattern: string): CompiledPattern {
  if (pattern.length > MAX_PATTERN_LENGTH) return { ok: false, reason: `is longer than ${MAX_PATTERN_LENGTH} characters` };
  try {
    // Construction only, never matched: checks the ECMAScript syntax JSON Schema specifies, in linear time.
    new RegExp(pattern, "u");
  } catch {
    return { ok: false, reason: "is not a valid ECMAScript regular expression (as JSON Schema requires, with the u flag)" };
  }
  if (hasBackreference(pattern)) return { ok: false, reason: "uses a backreference (\\1, \\k<name>), which cannot run in linear time and is not supported" };
  // Written as not-within so that a NaN from absurd counts is refused too.
  if (!(unrolledSize(pattern) <= MAX_PATTERN_PROGRAM)) return { ok: false, reason: tooLarge };
  let regExp: RE2JS;
  try {
    regExp = RE2JS.compile(RE2JS.translateRegExp(withEcmaScriptClasses(pattern)));
  } catch (error) {
    return { ok: false, reason: describeSyntaxError(error) };
  }
  const size = regExp.programSize();
  return size > MAX_PATTERN_PROGRAM ? { ok: false, reason: tooLarge } : { ok: true, regExp, size };
}

/**
 * Compiles every `pattern` and `patternProperties` key of a schema's subschemas, within the schema's budget.
 *
 * @example
 * const { compiled, problems } = compileSchemaPatterns(analyseSchema(schema).nodes);
 */
export function compileSchemaPatterns(nodes: SchemaNode[]): { compiled: Map<string, RE2JS>; problems: SchemaProblem[] } {
  const compiled = new Map<string, RE2JS>();
  const problems: SchemaProblem[] = [];
  let total = 0;
  const check = (pattern: string, pointer: string) => {
    if (compiled.has(pattern)) return;
    const result = compilePattern(pattern);
    if (!result.ok) {
      problems.push({ pointer, message: `the pattern ${result.reason}` });
      return;
    }
    total += result.size;
    if (total > MAX_SCHEMA_PATTERN_PROGRAM) problems.push({ pointer, message: `the schema's patterns together expand to more than ${MAX_SCHEMA_PATTERN_PROGRAM} RE2 instructions` });
    else compiled.set(pattern, result.regExp);
  };
  for (const { schema, pointer } of nodes) {
    if (problems.length >= MAX_REPORTED || total > MAX_SCHEMA_PATTERN_PROGRAM) break;
    if (typeof schema.pattern === "string") check(schema.pattern, `${pointer}/pattern`);
    const keyed = schema.patternProperties;
    if (typeof keyed === "object" && keyed !== null && !Array.isArray(keyed)) {
      for (const key of Object.keys(keyed)) check(key, `${pointer}/patternProperties/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`);
    }
  }
  return { compiled, problems };
}
