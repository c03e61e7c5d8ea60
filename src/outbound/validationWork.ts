/**
 * A cap on the work one payload's validation may do. The schema rules (schemaGraph.ts) refuse the recursion that
 * multiplies, but a schema can still apply its parts to one payload far too often without recursing that way:
 * references that fan out on the same value (`{"allOf":[{"$ref":"#/$defs/d1"},{"$ref":"#/$defs/d1"}]}` with each
 * d_i doing the same to d_(i+1): 2^k applications per value, 116 ms per event at k = 22, doubling with each level),
 * separate recursions chained one after another (polynomial in the payload's depth, one degree per link: five took
 * 241 ms at depth 60, and the depth limit is 256), or one large `required` reached through many references.
 * Deciding all of that from the schema alone is not tractable, so the validation counts as it goes.
 *
 * Every subschema of the compiled copy carries COST_KEYWORD, whose value is what applying that subschema to one
 * value costs (1, plus the names its `required`/`dependentRequired` check and the properties it looks up), which of
 * the value's sizes its checks walk, and how many of its keywords copy the errors so far when they fail:
 * `[units, walks, copies]`. Ajv runs
 * the keyword each time it applies the subschema; past MAX_VALIDATION_WORK the validation stops with
 * ValidationTooCostlyError and the event is refused (422), instead of holding the event loop. The cap is far above
 * what a 512 KB payload costs against an ordinary schema (every value of it checked against a handful of
 * subschemas): a few hundred thousand.
 *
 * Keywords whose check walks the value are charged by its size on every application, since references can apply
 * one of them to the same value 2^k times (sweep 19: `maxLength` 4,096 times on a 400,000-character string held
 * the event loop 2 s, `maxProperties` on 40,000 keys 12 s, each application counted as one unit): COST_KEYWORD
 * also carries which sizes a subschema's checks walk — a string's length (`maxLength`/`minLength` count code points),
 * an object's keys (`maxProperties`/`minProperties` list them, `additionalProperties`, `unevaluatedProperties`
 * and `patternProperties` loop over them) — and `enum`/`const` are charged by the size of their members, which
 * bounds a comparison (enumKeyword.ts spells a value only as long as the longest member).
 *
 * Matching strings (`pattern`, `patternProperties`, `format`) is counted apart, because one match can cost far
 * more than a unit and its cost depends on the engine's path: RE2 is linear, but when re2js's DFA gives up (a
 * pattern such as `\w*a\w{998}!`, whose DFA needs a state per position) it runs the NFA at ~16 ns per character per
 * program instruction — 5.5 s for one 500 KB string. So a match whose worst case (characters × instructions)
 * passes MAX_MATCH_WORK is not run, and the time a validation spends matching is measured as it goes, past
 * MAX_MATCHING_MS (or the instance's HOOKLEDGER_SCHEMA_MATCHING_MS) it stops. The bound is on time, not on worst cases added up: a payload of a thousand URLs costs
 * milliseconds on the DFA, and worst cases summed would refuse it.
 */
import { _, Name, type CodeKeywordDefinition } from "ajv/dist/2020.js";
import { canonicalText } from "./canonicalJson.ts";
import { PayloadValueNames } from "./uniqueItems.ts";

export const COST_KEYWORD = "x-hookledger-cost";

/** walkedSizes' flags: the subschema's checks walk a string value's characters, or an object value's keys. */
const WALKS_STRING = 1;
const WALKS_KEYS = 2;

/** The first keyword Ajv checks in a subschema (draft 2020-12's rules): the charging keywords go before it. */
const FIRST_KEYWORD = "$dynamicAnchor";

/** Characters of a string walked per work unit (~1.2 ns each on Bun, a unit being ~150 ns: charged at twice that). */
const CHARACTERS_PER_UNIT = 64;

/**
 * Errors a validation function may hold while collecting all of them (errorsOf in payloadSchema.ts), past which it
 * stops. Ajv adds each error of our own keywords (`enum`, `multipleOf`, `uniqueItems`) and the errors a referenced
 * schema returns with `vErrors.concat(…)`, a copy of every error collected so far: collecting the errors of 60,000
 * items failing `{"enum":["a"]}` made 60,000 copies of up to 60,000 errors and held the event loop 4-6 s (sweep 21).
 * The answer shows 20; at this many the copies cost a few milliseconds.
 */
export const MAX_COLLECTED_ERRORS = 1000;

/**
 * The keywords whose failure Ajv adds with `vErrors.concat(…)`, copying every error its validation function holds:
 * our own `enum`, `multipleOf` and `uniqueItems` (function keywords), and references (the called function's errors).
 * Errors add up even in a fail-fast validation under `contains`, `anyOf`, `oneOf` and `not`, which try a
 * subschema and go on: `{"contains":{"enum":["a"]}}` over 60,000 `"b"` and a last `"a"` — a valid payload — made
 * 60,000 such copies and held the event loop 4.6 s (10 s through a `$ref`; sweep 21).
 */
const COPYING_KEYWORDS = ["enum", "multipleOf", "uniqueItems", "$ref", "$dynamicRef"];

/** Errors copied per work unit, when a copying keyword of an application can fail (~2-10 ns each on Bun). */
const ERRORS_PER_UNIT = 16;

/** Ajv's count of the errors a generated validation function holds (a local of every such function). */
const ERRORS_SO_FAR = new Name("errors");

/** Work units one validation may spend: ~150 ms on Bun at the costliest units measured (a 1,000-name `required`). */
export const MAX_VALIDATION_WORK = 1_000_000;

/** One match's worst case, in characters × RE2 program instructions: ~100 ms on re2js's NFA. */
export const MAX_MATCH_WORK = 6_000_000;

/** Time one validation may spend matching strings against patterns and formats, unless HOOKLEDGER_SCHEMA_MATCHING_MS says. */
export const MAX_MATCHING_MS = 100;

const TOO_MANY_STEPS = `validating the payload against the event type's schema takes more than ${MAX_VALIDATION_WORK} steps: the schema applies its parts to this payload too many times; simplify the schema or split the payload`;

export class ValidationTooCostlyError extends Error {
  override readonly name = "ValidationTooCostlyError";
  constructor(message = TOO_MANY_STEPS) {
    super(message);
  }
}

/** One validation's context, which Ajv passes to keywords as `this`: uniqueItems' value names, and the work so far. */
export class ValidationRun extends PayloadValueNames {
  work = 0;
  matchingMs = 0;
  /** The time its matches may take (MAX_MATCHING_MS, or the instance's HOOKLEDGER_SCHEMA_MATCHING_MS). */
  matchingBudgetMs = MAX_MATCHING_MS;
  /** The errors one of its validation functions may hold: MAX_COLLECTED_ERRORS where all of them are collected. */
  maxErrors = Number.POSITIVE_INFINITY;
  private readonly keyCounts = new WeakMap<object, number>();

  /** How many keys an object has, counted once per validation (counting walks them). */
  keysOf(value: object): number {
    let count = this.keyCounts.get(value);
    if (count === undefined) this.keyCounts.set(value, (count = Object.keys(value).length));
    return count;
  }
}

/**
 * The run of the validation in progress, for what Ajv calls without its context (a pattern's `test`, a format).
 * Validation is synchronous, so one at a time runs: `validating` sets it around one call of a compiled schema.
 */
let activeRun: ValidationRun | undefined;

/** Runs `validate` (a compiled schema applied to a payload) with `run` as the run matches are counted against. */
export function validating<T>(run: ValidationRun, validate: () => T): T {
  const outer = activeRun;
  activeRun = run;
  try {
    return validate();
  } finally {
    activeRun = outer;
  }
}

/**
 * Runs one match whose worst case is `worstCase` (characters × instructions, or what stands for it), counting its
 * time against the active run; `what` names the matcher in the refusal ("the pattern `^a+$`", "format uri").
 */
export function countedMatch(worstCase: number, what: string, length: number, match: () => boolean): boolean {
  if (worstCase > MAX_MATCH_WORK) {
    throw new ValidationTooCostlyError(
      `a string of ${length} characters is too long to check against ${what} (at most ${MAX_MATCH_WORK.toLocaleString("en-US")} characters × instructions per match); shorten the string or simplify the schema`,
    );
  }
  const run = activeRun;
  if (!run) return match();
  const started = performance.now();
  const matched = match();
  if ((run.matchingMs += performance.now() - started) > run.matchingBudgetMs) {
    throw new ValidationTooCostlyError(`matching the payload's strings against the schema's patterns and formats takes more than ${run.matchingBudgetMs} ms; simplify the patterns or split the payload`);
  }
  return matched;
}

const length = (value: unknown) => (Array.isArray(value) ? value.length : 0);

/** A subschema's `dependentRequired` lists, by the property that requires each (none when it has none). */
export function dependentRequiredLists(schema: Record<string, unknown>): [string, unknown[]][] {
  const dependent = schema.dependentRequired;
  if (typeof dependent !== "object" || dependent === null) return [];
  return Object.entries(dependent).filter((entry): entry is [string, unknown[]] => Array.isArray(entry[1]));
}

/** The names all of a subschema's `dependentRequired` lists hold. */
export const dependentRequiredNames = (schema: Record<string, unknown>): number => dependentRequiredLists(schema).reduce((sum, [, names]) => sum + names.length, 0);

/** Work units comparing a value with a member of `enum` or `const` can cost at most: the member's size. */
function memberCost(member: unknown): number {
  if (typeof member === "string") return Math.ceil(member.length / CHARACTERS_PER_UNIT);
  if (typeof member !== "object" || member === null) return 0;
  return Math.ceil((canonicalText(member)?.length ?? 0) / CHARACTERS_PER_UNIT);
}

/** What applying `schema` (one subschema, its children not included) to one value costs, in work units. */
export function applicationCost(schema: Record<string, unknown>): number {
  const properties = schema.properties;
  return (
    1 +
    length(schema.required) +
    dependentRequiredNames(schema) +
    (typeof properties === "object" && properties !== null ? Object.keys(properties).length : 0) +
    (Array.isArray(schema.enum) ? Math.max(0, ...schema.enum.map(memberCost)) : 0) +
    ("const" in schema ? memberCost(schema.const) : 0)
  );
}

/** How many of `schema`'s keywords copy the errors collected so far when they fail (COPYING_KEYWORDS). */
export const errorCopies = (schema: Record<string, unknown>): number => COPYING_KEYWORDS.filter((keyword) => keyword in schema).length;

/** Which sizes of the value `schema`'s checks walk (walkedSizes' flags; 0: none). */
export function walkedSizes(schema: Record<string, unknown>): number {
  let flags = 0;
  if ("maxLength" in schema || "minLength" in schema) flags |= WALKS_STRING;
  if (["maxProperties", "minProperties", "additionalProperties", "unevaluatedProperties", "patternProperties"].some((keyword) => keyword in schema)) flags |= WALKS_KEYS;
  return flags;
}

/**
 * Adds one application's cost to the run (Ajv passes the run as `this`): its `units`, what its checks' walks of
 * `value` cost (`walks`, walkedSizes' flags), and what its `copies` (errorCopies) cost if they fail, copying the
 * `errors` its validation function holds. Past the cap the validation stops, and so it does when that function
 * holds more than the run's `maxErrors`.
 */
function charge(this: unknown, value: unknown, units: number, walks: number, copies: number, errors: number): void {
  if (!(this instanceof ValidationRun)) return;
  if (errors > this.maxErrors) throw new ValidationTooCostlyError(`the payload has more than ${this.maxErrors} errors against the event type's schema`);
  let cost = units + (copies > 0 && errors > 0 ? Math.ceil((copies * errors) / ERRORS_PER_UNIT) : 0);
  if (walks & WALKS_STRING && typeof value === "string") cost += Math.ceil(value.length / CHARACTERS_PER_UNIT);
  else if (walks & WALKS_KEYS && typeof value === "object" && value !== null && !Array.isArray(value)) cost += this.keysOf(value);
  if ((this.work += cost) > MAX_VALIDATION_WORK) throw new ValidationTooCostlyError();
}

/**
 * The keyword that counts: add it to the Ajv instance, and COST_KEYWORD with `[applicationCost, walkedSizes]` to
 * every subschema. It writes one call into the generated code. As a function keyword (Ajv wraps each in a call that
 * collects its errors) it doubled the code Ajv generates and made compiling ~6× slower: 1.3 s instead of 0.2 s for a
 * schema of 2,000 properties, all on the event loop.
 */
export const costKeyword: CodeKeywordDefinition = {
  keyword: COST_KEYWORD,
  schemaType: "array",
  // First of all keywords: in a fail-fast validator a keyword that fails ends its subschema, so a charge after it
  // was never made, and `{"not":{"enum":[<200 KB>]}}` applied 16,384 times ran its comparisons uncharged.
  before: FIRST_KEYWORD,
  code(cxt) {
    const [units, walks, copies] = cxt.schema as [number, number, number];
    const run = cxt.gen.scopeValue("func", { ref: charge });
    cxt.gen.code(_`${run}.call(this, ${cxt.data}, ${units}, ${walks}, ${copies}, ${ERRORS_SO_FAR})`);
  },
};
