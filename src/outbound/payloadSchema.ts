/**
 * JSON Schema (draft 2020-12) for event payloads. A tenant's schema runs inside our process on every event of its
 * type, so it is checked before it is accepted and compiled so that it cannot stall or crash the service:
 * patterns and formats run on RE2 in linear time (schemaPatterns.ts, schemaFormats.ts), references must stay
 * inside the schema and may not loop without moving into the payload (schemaGraph.ts), and each schema gets its
 * own Ajv instance, so one tenant's `$id` can neither collide with nor be referenced by another's. `uniqueItems` is
 * our own, linear in the payload (uniqueItems.ts): Ajv's compares every pair of items; so is `enum`
 * (enumKeyword.ts): Ajv's compares the value with every member.
 *
 * A payload is first validated fail-fast (Ajv stops at the first error), which decides valid or invalid in no more
 * work than a valid payload costs. Collecting every error instead can cost far more than that: under
 * `{"items":{"required":[2000 names]}}` 4,000 `{}` items make 8 million errors (4.4 s and 1.2 GB; 20,000 names
 * killed the process). So only an invalid payload is validated again collecting all errors (with a validator
 * compiled on the first invalid payload, so that create, PATCH and schemas whose events all conform pay one
 * compile, as before), and only when its nodes times the schema's JSON values (errorSources), which bounds the
 * errors Ajv can make, is small; otherwise the fail-fast errors are the answer.
 *
 * Compiled validators are cached by schema text: compiling is far slower than validating, and an event type's
 * schema changes rarely. A schema stored before these rules and refused by them is cached as refused, and its
 * events are answered 422 naming the event type, not 500.
 */
import { Ajv2020, type CodeOptions, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { RE2JS } from "re2js";
import { MAX_JSON_NESTING, nestsDeeperThan } from "../http/inputRules.ts";
import { ProblemError, type FieldError } from "../http/problem.ts";
import type { Config } from "../config.ts";
import { CompileBudget, DEFAULT_COMPILE_MS_PER_WINDOW } from "./compileBudget.ts";
import { enumKeyword } from "./enumKeyword.ts";
import { multipleOfKeyword } from "./multipleOfKeyword.ts";
import { linearTimeFormats } from "./schemaFormats.ts";
import { analyseSchema, escapeToken, type SchemaNode, type SchemaProblem } from "./schemaGraph.ts";
import { compileSchemaPatterns } from "./schemaPatterns.ts";
import { uniqueItemsKeyword } from "./uniqueItems.ts";
import { applicationCost, COST_KEYWORD, costKeyword, countedMatch, dependentRequiredLists, dependentRequiredNames, errorCopies, MAX_COLLECTED_ERRORS, MAX_MATCHING_MS, validating, ValidationRun, ValidationTooCostlyError, walkedSizes } from "./validationWork.ts";

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
/** The formats a schema may name: each is checked (on RE2 where it is a regex, schemaFormats.ts). */
const KNOWN_FORMATS = new Set(Object.keys(linearTimeFormats));
/** The keywords Ajv turns into code (draft 2020-12's applicators and assertions; annotations and unknown keys make none). */
const CODE_KEYWORDS = new Set([
  "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength",
  "pattern", "maxItems", "minItems", "uniqueItems", "maxContains", "minContains", "maxProperties", "minProperties", "required",
  "dependentRequired", "format", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas", "prefixItems", "items",
  "contains", "properties", "patternProperties", "additionalProperties", "propertyNames", "unevaluatedItems", "unevaluatedProperties",
  "$ref", "$dynamicRef",
]);
/**
 * The compile budget of a schema created or changed: Ajv compiles every subschema and keyword into code, on the event
 * loop, at every create or PATCH and once per process for each schema in use. Within these a compile takes up to
 * ~0.2 s on the 2-core box (a schema of 1,990 properties, each with three keywords, took 13 s before: Ajv's code
 * optimizer and our cost keyword as a function keyword were superlinear in it). Schemas stored before the budget
 * keep validating: it is checked when a schema is accepted, not when a stored one is compiled.
 */
export const MAX_SCHEMA_SUBSCHEMAS = 1000;
export const MAX_SCHEMA_KEYWORDS = 2000;
/** Schemas up to this many keywords also get an all-errors validator (a second compile, on the first invalid payload). */
const MAX_ALL_ERRORS_KEYWORDS = 1000;
const DIALECT = "https://json-schema.org/draft/2020-12/schema";
const MAX_CACHED = 1000;
/**
 * The most payload nodes × schema JSON values (errorSources) for which an invalid payload is validated again to
 * collect all its errors. Each (node, schema value) pair makes at most about one error: 250,000 errors took ~135 ms
 * on Bun (~0.5 µs and ~150 bytes each), while a 1,000-value schema still gets every error for payloads of up to 250
 * values, and a 100-value one up to 2,500.
 */
export const MAX_ALL_ERRORS_WORK = 250_000;

export class InvalidPayloadSchemaError extends Error {
  override readonly name = "InvalidPayloadSchemaError";
  constructor(readonly problems: SchemaProblem[]) {
    super("the schema cannot be used");
  }
}

// Only validates schemas against the draft 2020-12 meta-schema; it never compiles a tenant's schema, so it holds
// no tenant state. Formats are not checked there: its `uri-reference` regex backtracks.
const metaSchemaChecker = new Ajv2020({ allErrors: true, strict: false, validateFormats: false, logger: false });

function describeMetaError(error: ErrorObject): string {
  const allowed = error.keyword === "enum" && Array.isArray(error.params.allowedValues) ? `must be one of ${error.params.allowedValues.map(String).join(", ")}` : error.message;
  return `is not valid JSON Schema (draft 2020-12): ${allowed ?? "does not match the meta-schema"}`;
}

function metaSchemaProblems(schema: Record<string, unknown>): SchemaProblem[] {
  if (schema.$schema !== undefined && schema.$schema !== DIALECT && schema.$schema !== `${DIALECT}#`) {
    return [{ pointer: "/$schema", message: `only JSON Schema draft 2020-12 is supported; omit $schema or use ${DIALECT}` }];
  }
  if (metaSchemaChecker.validateSchema(schema) === true) return [];
  // The meta-schema reports one mistake several ways (enum, then type, then anyOf); the first says it best.
  const firstPerPlace = new Map<string, ErrorObject>();
  for (const error of metaSchemaChecker.errors ?? []) if (!firstPerPlace.has(error.instancePath)) firstPerPlace.set(error.instancePath, error);
  return [...firstPerPlace.entries()].slice(0, 20).map(([pointer, error]) => ({ pointer, message: describeMetaError(error) }));
}

/** Ajv's custom RegExp hook, answering with the RE2 programs checked beforehand, each match counted (validationWork.ts). */
function re2Engine(compiled: Map<string, RE2JS>): NonNullable<CodeOptions["regExp"]> {
  const engine = (pattern: string) => {
    const regExp = compiled.get(pattern);
    if (!regExp) throw new Error("pattern was not checked before compiling");
    const size = regExp.programSize();
    const what = `the pattern \`${pattern.length > 60 ? `${pattern.slice(0, 60)}…` : pattern}\` (${size} RE2 instructions)`;
    // Ajv keeps one matcher per `toString()`: each pattern must name itself.
    return { test: (value: string) => countedMatch(value.length * size, what, value.length, () => regExp.test(value)), toString: () => `re2:${pattern}` };
  };
  // Ajv writes this name into generated code only for standalone modules, which are never generated here.
  return Object.assign(engine, { code: "hookledgerRe2Pattern" });
}

/**
 * The number of JSON values in `root`, counting at most `limit` of them. A member for which `opaque(parent, key)`
 * holds counts as one value, whatever it holds.
 */
function jsonValues(root: unknown, limit = Number.POSITIVE_INFINITY, opaque?: (parent: object, key: string) => boolean): number {
  let count = 0;
  const pending: unknown[] = [root];
  while (pending.length > 0 && count < limit) {
    const value = pending.pop();
    count++;
    if (typeof value !== "object" || value === null) continue;
    if (Array.isArray(value)) for (const item of value) pending.push(item);
    else for (const [key, member] of Object.entries(value)) pending.push(opaque?.(value, key) ? null : member);
  }
  return count;
}

/** Keywords whose value is data, not subschemas: each makes at most one error per payload node, whatever its size. */
const DATA_KEYWORDS = new Set(["enum", "const", "default", "examples"]);

/**
 * The JSON values in the schema, counting each DATA_KEYWORDS value as one: about the most errors one payload node
 * can get when all are collected (one per keyword, and one per name of `required` and `dependentRequired`).
 */
function errorSources(schema: Record<string, unknown>, subschemas: Set<object>): number {
  return jsonValues(schema, Number.POSITIVE_INFINITY, (parent, key) => subschemas.has(parent) && DATA_KEYWORDS.has(key));
}

/**
 * A copy of `value` in which every subschema carries COST_KEYWORD with what applying it costs, which of the
 * value's sizes its checks walk and which of its keywords copy the errors so far (validationWork.ts);
 * the event type keeps the original.
 */
function withApplicationCosts(value: unknown, subschemas: Set<object>): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map((item) => withApplicationCosts(item, subschemas));
  const copy: Record<string, unknown> = Object.fromEntries(Object.entries(value).map(([key, member]) => [key, withApplicationCosts(member, subschemas)]));
  if (subschemas.has(value)) copy[COST_KEYWORD] = [applicationCost(value as Record<string, unknown>), walkedSizes(value as Record<string, unknown>), errorCopies(value as Record<string, unknown>)];
  return copy;
}

interface CompiledSchema {
  /** Stops at the first error (unless V8 could not compile that: then it is allErrors). */
  failFast: ValidateFunction;
  /** Collects every error; compiled on the first invalid payload, null if Ajv refused it or the schema is large. */
  allErrors: ValidateFunction | null | undefined;
  compileAllErrors: () => ValidateFunction;
  /** errorSources of the schema. */
  values: number;
  /** Why the schema could not be accepted today though it compiles (over the budget, a format no one checks). */
  acceptProblems: SchemaProblem[];
  /** Subschemas plus keywords: what the cache counts. */
  size: number;
}

/**
 * Names one `dependentRequired` entry may list: Ajv's check of an entry grows with the square of its names (990
 * names took a second to compile).
 */
const MAX_DEPENDENT_NAMES = 100;

/**
 * The keywords Ajv compiles into code, over every subschema, each name of a `dependentRequired` counting as one:
 * Ajv writes a check for each, with no loop as for `required` (1,000 properties each requiring 100 others took 3 s
 * to compile, and 7 s for the all-errors validator).
 */
const codeKeywords = (nodes: SchemaNode[]) =>
  nodes.reduce((sum, node) => sum + Object.keys(node.schema).filter((key) => CODE_KEYWORDS.has(key)).length + dependentRequiredNames(node.schema), 0);

/**
 * With `unevaluatedProperties` or `unevaluatedItems` Ajv's code also tracks what each keyword evaluated, and
 * compiling grows faster than the keywords: 990 properties took 0.55 s instead of 0.09 s. Such a schema's keywords
 * count four times over.
 */
const UNEVALUATED_WEIGHT = 4;
const tracksEvaluation = (nodes: SchemaNode[]) => nodes.some((node) => "unevaluatedProperties" in node.schema || "unevaluatedItems" in node.schema);

/** Whether a schema is being accepted (created or changed: the budget applies) or a stored one compiled to validate. */
type Purpose = "accept" | "validate";

/** A schema over the compile budget, refused before it is compiled; never cached (a stored one may be the same). */
class OverBudgetError extends InvalidPayloadSchemaError {}

/** Where a schema is over the compile budget. */
function budgetProblems(nodes: SchemaNode[], keywords: number, weighted: boolean): SchemaProblem[] {
  if (nodes.length > MAX_SCHEMA_SUBSCHEMAS) return [{ pointer: "", message: `has more than ${MAX_SCHEMA_SUBSCHEMAS} subschemas; split the event type or simplify its schema` }];
  const longDependents = nodes.flatMap((node) =>
    dependentRequiredLists(node.schema)
      .filter(([, names]) => names.length > MAX_DEPENDENT_NAMES)
      .map(([name]) => ({ pointer: `${node.pointer}/dependentRequired/${escapeToken(name)}`, message: `lists more than ${MAX_DEPENDENT_NAMES} properties` })),
  );
  if (longDependents.length > 0) return longDependents.slice(0, 20);
  if (keywords <= MAX_SCHEMA_KEYWORDS) return [];
  const counted = weighted ? ` (counted ${UNEVALUATED_WEIGHT} times over beside unevaluatedProperties or unevaluatedItems)` : "";
  return [{ pointer: "", message: `has ${keywords} validation keywords${counted}, more than ${MAX_SCHEMA_KEYWORDS}; split the event type or simplify its schema` }];
}

/** Keywords whose property names Ajv looks up on the value. */
const NAMING_KEYWORDS = ["properties", "dependentSchemas", "dependentRequired"];

/**
 * Property names a validator cannot check: Ajv skips `__proto__` where a schema names properties (reading it would
 * reach the prototype), so `{"properties":{"__proto__":{"type":"string"}}}` let `{"__proto__":12345}` through
 * (sweep 19). Refused when a schema is accepted, rather than checked as if it were not there.
 */
function uncheckableNames(nodes: SchemaNode[]): SchemaProblem[] {
  return nodes.flatMap((node) =>
    NAMING_KEYWORDS.filter((keyword) => {
      const named = node.schema[keyword];
      return typeof named === "object" && named !== null && Object.hasOwn(named, "__proto__");
    }).map((keyword) => ({ pointer: `${node.pointer}/${keyword}/__proto__`, message: "a property named __proto__ cannot be checked; leave it out of the schema" })),
  );
}

function compile(schema: Record<string, unknown>, purpose: Purpose): CompiledSchema {
  // The structure first: it is cheap, and it refuses schemas too large for the meta-schema check and Ajv.
  const { nodes, problems } = analyseSchema(schema);
  if (problems.length > 0) throw new InvalidPayloadSchemaError(problems);
  const weighted = tracksEvaluation(nodes);
  const keywords = codeKeywords(nodes) * (weighted ? UNEVALUATED_WEIGHT : 1);
  const overBudget = budgetProblems(nodes, keywords, weighted);
  if (overBudget.length > 0 && purpose === "accept") throw new OverBudgetError(overBudget);
  const uncheckable = purpose === "accept" ? uncheckableNames(nodes) : [];
  if (uncheckable.length > 0) throw new InvalidPayloadSchemaError(uncheckable.slice(0, 20));
  const metaProblems = metaSchemaProblems(schema);
  if (metaProblems.length > 0) throw new InvalidPayloadSchemaError(metaProblems);
  const patterns = compileSchemaPatterns(nodes);
  if (patterns.problems.length > 0) throw new InvalidPayloadSchemaError(patterns.problems);
  const subschemas = new Set<object>(nodes.map((node) => node.schema));
  const counted = withApplicationCosts(schema, subschemas) as Record<string, unknown>;
  const compileWith = (allErrors: boolean): ValidateFunction => {
    // passContext: each validation's ValidationRun reaches the uniqueItems and cost keywords as `this`.
    // ownProperties: only a payload's own members count (`required: ["constructor"]` was met by `{}`, and an optional
    // `toString` refused every payload without one).
    // No optimizer passes (superlinear in the code's size, for little gain at run time), `required` as a loop rather
    // than one expression per name, and no logger: Ajv's warnings quote the tenant's schema into our log.
    const ajv = addFormats(
      new Ajv2020({ allErrors, strict: false, meta: false, validateSchema: false, passContext: true, logger: false, loopRequired: 8, ownProperties: true, code: { optimize: false, regExp: re2Engine(patterns.compiled) } }),
    );
    for (const [name, format] of Object.entries(linearTimeFormats)) ajv.addFormat(name, format);
    ajv.removeKeyword("uniqueItems").addKeyword(uniqueItemsKeyword);
    ajv.removeKeyword("enum").addKeyword(enumKeyword);
    ajv.removeKeyword("multipleOf").addKeyword(multipleOfKeyword);
    ajv.addKeyword(costKeyword);
    return ajv.compile(counted);
  };
  let failFast: ValidateFunction;
  let allErrors: ValidateFunction | undefined;
  try {
    failFast = compileWith(false);
  } catch {
    try {
      // Ajv nests each check of a fail-fast validator inside the one before: with ~2,000 properties V8 (not Bun)
      // can run out of stack compiling it. The all-errors validator is flat; it then decides alone, as before.
      failFast = allErrors = compileWith(true);
    } catch {
      // Whatever else Ajv refuses, its own message names its internals, not the tenant's mistake.
      throw new InvalidPayloadSchemaError([{ pointer: "", message: "could not be compiled as JSON Schema draft 2020-12" }]);
    }
  }
  const unknownFormats = nodes.flatMap((node) =>
    typeof node.schema.format === "string" && !KNOWN_FORMATS.has(node.schema.format)
      ? [{ pointer: `${node.pointer}/format`, message: `is not a format hookledger checks; use one of ${[...KNOWN_FORMATS].join(", ")}` }]
      : [],
  );
  return {
    failFast,
    // A large schema's fail-fast errors are the answer: a second compile would hold the event loop as long again.
    allErrors: allErrors ?? (keywords > MAX_ALL_ERRORS_KEYWORDS ? null : undefined),
    compileAllErrors: () => compileWith(true),
    values: errorSources(schema, subschemas),
    acceptProblems: [...overBudget, ...unknownFormats].slice(0, 20),
    size: nodes.length + keywords,
  };
}

/**
 * Compiled schemas, least recently used first, bounded by count and by their size: a validator of the largest schema
 * allowed holds ~6 MB, so 1,000 of them (an organization with many large event types, one event each) took gigabytes.
 * Size is counted in subschemas plus keywords, about what Ajv generates code for.
 */
const cache = new Map<string, { entry: CompiledSchema | InvalidPayloadSchemaError; size: number }>();
const MAX_CACHED_SIZE = 50_000;
let cachedSize = 0;

function remember(key: string, entry: CompiledSchema | InvalidPayloadSchemaError): void {
  const size = entry instanceof InvalidPayloadSchemaError ? 1 : entry.size;
  cache.set(key, { entry, size });
  cachedSize += size;
  for (const [oldest, { size: oldestSize }] of cache) {
    if (cache.size <= MAX_CACHED && cachedSize <= MAX_CACHED_SIZE) break;
    cache.delete(oldest);
    cachedSize -= oldestSize;
  }
}

/** How many compiled schemas the cache holds, and their size (subschemas plus keywords). */
export function compiledSchemaCache(): { entries: number; size: number; maxSize: number } {
  return { entries: cache.size, size: cachedSize, maxSize: MAX_CACHED_SIZE };
}

/** A cached entry, now the most recently used. */
function recall(key: string): CompiledSchema | InvalidPayloadSchemaError | undefined {
  const cached = cache.get(key);
  if (!cached) return undefined;
  cache.delete(key);
  cache.set(key, cached);
  return cached.entry;
}

/** Schemas' texts by object: a cached event type's schema is one object, spelled once rather than per event. */
const keys = new WeakMap<object, string>();

/** The text that names a schema (the compiled-schema cache's key): equal texts, one schema. */
export function schemaKey(schema: object): string {
  let key = keys.get(schema);
  if (key === undefined) keys.set(schema, (key = JSON.stringify(schema)));
  return key;
}

/** The compiling each organization causes in this process (compileBudget.ts); shared, as the cache is. */
const compileBudget = new CompileBudget();

/**
 * The time budgets of schema work, both measured on the clock: an organization's compiling per 10 s
 * (compileBudget.ts) and one validation's matching of strings (validationWork.ts).
 */
export interface SchemaBudgets {
  compileMs: number;
  matchingMs: number;
}

export const DEFAULT_SCHEMA_BUDGETS: SchemaBudgets = { compileMs: DEFAULT_COMPILE_MS_PER_WINDOW, matchingMs: MAX_MATCHING_MS };

/** The instance's budgets (HOOKLEDGER_SCHEMA_COMPILE_MS, HOOKLEDGER_SCHEMA_MATCHING_MS). */
export const schemaBudgetsOf = (config: Pick<Config, "HOOKLEDGER_SCHEMA_COMPILE_MS" | "HOOKLEDGER_SCHEMA_MATCHING_MS">): SchemaBudgets => ({
  compileMs: config.HOOKLEDGER_SCHEMA_COMPILE_MS,
  matchingMs: config.HOOKLEDGER_SCHEMA_MATCHING_MS,
});

/** Runs `work`, which compiles, within `owner`'s compile budget (none: not counted, e.g. a schema at start-up). */
function compiling<T>(owner: string | undefined, budgets: SchemaBudgets, work: () => T): T {
  if (owner === undefined) return work();
  compileBudget.assertRoom(owner, budgets.compileMs);
  const started = performance.now();
  try {
    return work();
  } finally {
    compileBudget.spend(owner, performance.now() - started);
  }
}

function compiled(schema: object, purpose: Purpose, owner: string | undefined, budgets: SchemaBudgets): CompiledSchema {
  const key = schemaKey(schema);
  let entry = recall(key);
  if (!entry) {
    try {
      entry = compiling(owner, budgets, () => compile(schema as Record<string, unknown>, purpose));
    } catch (error) {
      if (!(error instanceof InvalidPayloadSchemaError) || error instanceof OverBudgetError) throw error;
      entry = error;
    }
    remember(key, entry);
  }
  if (entry instanceof InvalidPayloadSchemaError) throw entry;
  return entry;
}

/** The errors of a payload `failFast` refused: all of them when that is cheap, else the first. */
function errorsOf(schema: CompiledSchema, payload: unknown, run: ValidationRun, owner: string | undefined, budgets: SchemaBudgets): ErrorObject[] {
  const firstErrors = schema.failFast.errors ?? [];
  if (schema.allErrors === schema.failFast) return firstErrors;
  const maxNodes = Math.floor(MAX_ALL_ERRORS_WORK / schema.values);
  if (jsonValues(payload, maxNodes + 1) > maxNodes) return firstErrors;
  if (schema.allErrors === undefined) {
    try {
      schema.allErrors = compiling(owner, budgets, schema.compileAllErrors);
    } catch (error) {
      // Over the owner's compile budget: the first errors are the answer this time, and it compiles another time.
      if (error instanceof ProblemError) return firstErrors;
      // The same schema compiled fail-fast; should Ajv still refuse it, the first errors are the answer.
      schema.allErrors = null;
    }
  }
  const allErrors = schema.allErrors;
  run.maxErrors = MAX_COLLECTED_ERRORS;
  try {
    if (allErrors === null || validating(run, () => allErrors.call(run, payload))) return firstErrors;
  } catch (error) {
    if (error instanceof ValidationTooCostlyError) return firstErrors;
    throw error;
  }
  return allErrors.errors ?? firstErrors;
}

/**
 * Throws InvalidPayloadSchemaError, listing each problem by JSON pointer, when `schema` cannot be accepted (created
 * or changed). Besides what makes a schema unusable, two rules apply here only: the compile budget, checked before
 * anything is compiled, and formats, since a misspelt `"format": "emial"` would otherwise pass every value. A stored
 * schema accepted before either rule keeps validating as it did.
 */
export function assertValidPayloadSchema(schema: object, owner?: string, budgets = DEFAULT_SCHEMA_BUDGETS): void {
  const { acceptProblems } = compiled(schema, "accept", owner, budgets);
  if (acceptProblems.length > 0) throw new InvalidPayloadSchemaError(acceptProblems);
}

/**
 * The payload's schema violations, as field/message pairs (empty when it conforms). `owner`: the organization a
 * compile is counted against; `budgets`: the instance's (schemaBudgetsOf).
 *
 * @throws ProblemError (429) when the schema must be compiled and `owner` has used its compile budget.
 */
export function payloadViolations(schema: object, payload: unknown, owner?: string, budgets = DEFAULT_SCHEMA_BUDGETS): FieldError[] {
  // Ajv recurses per level; payloads published from inbound webhooks did not pass the request-body rules.
  if (nestsDeeperThan(payload, MAX_JSON_NESTING)) return [{ field: "payload", message: `nests deeper than ${MAX_JSON_NESTING} levels of objects and arrays` }];
  let validate: CompiledSchema;
  try {
    validate = compiled(schema, "validate", owner, budgets);
  } catch (error) {
    if (!(error instanceof InvalidPayloadSchemaError)) throw error;
    const [first] = error.problems;
    return [{ field: "event_type", message: `the event type's schema can no longer be used (schema${first?.pointer ?? ""}: ${first?.message ?? "invalid"}); update the event type` }];
  }
  // One run for both passes: the errors' pass spends what the first left of the budgets, no more.
  const run = new ValidationRun();
  run.matchingBudgetMs = budgets.matchingMs;
  // A fail-fast validator V8 could not compile is the all-errors one: its errors are bounded as errorsOf's.
  if (validate.failFast === validate.allErrors) run.maxErrors = MAX_COLLECTED_ERRORS;
  try {
    if (validating(run, () => validate.failFast.call(run, payload))) return [];
  } catch (error) {
    if (!(error instanceof ValidationTooCostlyError)) throw error;
    return [{ field: "payload", message: error.message }];
  }
  return errorsOf(validate, payload, run, owner, budgets).slice(0, 20).map((error) => ({
    field: `payload${error.instancePath.replace(/\//g, ".")}`,
    message: error.message ?? "does not match the schema",
  }));
}
