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
 * value costs (1, plus the names its `required`/`dependentRequired` check and the properties it looks up). Ajv runs
 * the keyword each time it applies the subschema; past MAX_VALIDATION_WORK the validation stops with
 * ValidationTooCostlyError and the event is refused (422), instead of holding the event loop. The cap is far above
 * what a 512 KB payload costs against an ordinary schema (every value of it checked against a handful of
 * subschemas): a few hundred thousand.
 *
 * Matching strings (`pattern`, `patternProperties`, `format`) is counted apart, because one match can cost far
 * more than a unit and its cost depends on the engine's path: RE2 is linear, but when re2js's DFA gives up (a
 * pattern such as `\w*a\w{998}!`, whose DFA needs a state per position) it runs the NFA at ~16 ns per character per
 * program instruction — 5.5 s for one 500 KB string. So a match whose worst case (characters × instructions)
 * passes MAX_MATCH_WORK is not run, and the time a validation spends matching is measured as it goes, past
 * MAX_MATCHING_MS it stops. The bound is on time, not on worst cases added up: a payload of a thousand URLs costs
 * milliseconds on the DFA, and worst cases summed would refuse it.
 */
import { _, type CodeKeywordDefinition } from "ajv/dist/2020.js";
import { PayloadValueNames } from "./uniqueItems.ts";

export const COST_KEYWORD = "x-hookledger-cost";

/** Work units one validation may spend: ~150 ms on Bun at the costliest units measured (a 1,000-name `required`). */
export const MAX_VALIDATION_WORK = 1_000_000;

/** One match's worst case, in characters × RE2 program instructions: ~100 ms on re2js's NFA. */
export const MAX_MATCH_WORK = 6_000_000;

/** Time one validation may spend matching strings against patterns and formats. */
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
  if ((run.matchingMs += performance.now() - started) > MAX_MATCHING_MS) {
    throw new ValidationTooCostlyError(`matching the payload's strings against the schema's patterns and formats takes more than ${MAX_MATCHING_MS} ms; simplify the patterns or split the payload`);
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

/** What applying `schema` (one subschema, its children not included) to one value costs, in work units. */
export function applicationCost(schema: Record<string, unknown>): number {
  const properties = schema.properties;
  return (
    1 +
    length(schema.required) +
    dependentRequiredNames(schema) +
    (typeof properties === "object" && properties !== null ? Object.keys(properties).length : 0)
  );
}

/** Adds one application's cost to the run (Ajv passes the run as `this`); past the cap the validation stops. */
function charge(this: unknown, cost: number): void {
  if (this instanceof ValidationRun && (this.work += cost) > MAX_VALIDATION_WORK) throw new ValidationTooCostlyError();
}

/**
 * The keyword that counts: add it to the Ajv instance, and COST_KEYWORD with applicationCost to every subschema.
 * It writes one call into the generated code. As a function keyword (Ajv wraps each in a call that collects its
 * errors) it doubled the code Ajv generates and made compiling ~6× slower: 1.3 s instead of 0.2 s for a schema of
 * 2,000 properties, all on the event loop.
 */
export const costKeyword: CodeKeywordDefinition = {
  keyword: COST_KEYWORD,
  schemaType: "number",
  code(cxt) {
    const run = cxt.gen.scopeValue("func", { ref: charge });
    cxt.gen.code(_`${run}.call(this, ${cxt.schema as number})`);
  },
};
