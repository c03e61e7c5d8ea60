/**
 * Input validation at the edge: JSON bodies and query strings are parsed with valibot schemas, and every
 * failure becomes a problem+json naming each bad field and why. Before any schema sees a value, the input rules
 * (inputRules.ts) refuse what no route can store: invalid UTF-8, NUL, unpaired surrogates, runaway nesting.
 */
import type { Context } from "hono";
import * as v from "valibot";
import { firstInvalidUtf8Byte, jsonHazards, markSpans, MAX_JSON_NESTING, repeatedNames, textFieldHazards, textHazard, UNDERFLOW_MARK, underflowingNumbers } from "./inputRules.ts";
import { exactObject } from "./fields.ts";
import { ProblemError, type FieldError } from "./problem.ts";
import { requireUtf8Charset } from "./charset.ts";
import { readRequestBytes } from "./requestBody.ts";
import { queryEncodingErrors } from "./urlEncoded.ts";

export function fieldErrors(issues: readonly v.BaseIssue<unknown>[], prefix = ""): FieldError[] {
  return issues.map((issue) => {
    const path = issue.path?.map((item) => String(item.key)).join(".") ?? "";
    const unknownKey = issue.type === "strict_object" && issue.expected === "never";
    const message = unknownKey ? "unknown field" : plainMessage(issue);
    return { field: [prefix, path].filter(Boolean).join(".") || "(body)", message };
  });
}

/**
 * A schema's own message, or for valibot's defaults (a schema written without one: `Invalid key: Expected "since"
 * but received undefined`, `Invalid type: Expected ("true" | "false") but received "no"`) the plain words every
 * hand-written message uses: `required`, `expected "true" or "false", got "no"`.
 */
function plainMessage(issue: v.BaseIssue<unknown>): string {
  if (!/^Invalid \w+: Expected /.test(issue.message)) return issue.message;
  if (issue.kind === "schema" && issue.input === undefined) return "required";
  const expected = (issue.expected ?? "a valid value").replace(/^\((.*)\)$/, "$1").split(" | ").join(" or ");
  return `expected ${expected}, got ${issue.received}`;
}

/** Validates a value against a schema, throwing a 400 problem that lists every issue. */
export function parseOrProblem<S extends v.GenericSchema>(schema: S, value: unknown, prefix = ""): v.InferOutput<S> {
  const result = v.safeParse(schema, value, { abortEarly: false });
  if (result.success) return result.output;
  throw new ProblemError("validation", "one or more fields are invalid", { errors: fieldErrors(result.issues, prefix) });
}

/**
 * Refuses a body not declared as JSON (`application/json`, `application/*+json`) with 415. Its charset is checked
 * where the body is read (readUtf8Body).
 */
function requireJsonContentType(c: Context): void {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) {
    throw new ProblemError("unsupported-media-type", "send the body as application/json");
  }
}

/** Reads and validates a JSON request body, which must be a JSON object. */
export async function readJson<S extends v.GenericSchema>(c: Context, schema: S): Promise<v.InferOutput<S>> {
  requireJsonContentType(c);
  return parseOrProblem(schema, parseJsonObject(await readUtf8Body(c)));
}

/**
 * Validates an optional JSON body: an empty body validates as `{}`; any other body is held to what `readJson`
 * requires (a JSON content type, a JSON object), so a form or text body is refused, not read as JSON.
 */
export async function readOptionalJson<S extends v.GenericSchema>(c: Context, schema: S): Promise<v.InferOutput<S>> {
  const text = await readUtf8Body(c);
  if (text.trim() === "") return parseOrProblem(schema, {});
  requireJsonContentType(c);
  return parseOrProblem(schema, parseJsonObject(text));
}

const NO_FIELDS = exactObject({});

/**
 * For a POST that takes no body (enable, retry, test…): none, or `{}` declared as JSON. The input rules hold there
 * too — a `text/plain` body, an array or `{` acted with a 2xx, and `{"reason":"…"}` was silently ignored.
 */
export async function readNoBody(c: Context): Promise<void> {
  await readOptionalJson(c, NO_FIELDS);
}

// Fatal, unlike Request.text(): a body that is not UTF-8 is refused instead of silently turned into U+FFFD.
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The body as text, refused unread when it is declared in a charset other than UTF-8 (JSON is UTF-8, RFC 8259 §8.1). */
async function readUtf8Body(c: Context): Promise<string> {
  requireUtf8Charset(c, "JSON bodies");
  const bytes = await readRequestBytes(c);
  try {
    return utf8.decode(bytes);
  } catch {
    const at = firstInvalidUtf8Byte(bytes);
    throw new ProblemError("malformed-json", "the body is not valid UTF-8", {
      errors: [{ field: "(body)", message: `byte ${at} is not valid UTF-8 (JSON bodies must be UTF-8, where an unpaired surrogate cannot be written)` }],
    });
  }
}

/** Parses a body and applies the input rules before anything recursive (valibot, hashing, storage) touches it. */
function parseJsonBody(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProblemError("malformed-json", "the body could not be parsed as JSON");
  }
  const errors = jsonHazards(value, { maxDepth: MAX_JSON_NESTING, rootLevel: 0 });
  // A number that underflowed reads as 0, unlike one that overflowed (Infinity): it is found in the text, and a copy
  // with each one marked is walked to name its field.
  const underflows = errors.length === 0 ? underflowingNumbers(text) : [];
  if (underflows.length > 0) {
    const marked: unknown = JSON.parse(markSpans(text, underflows, UNDERFLOW_MARK));
    errors.push(...jsonHazards(marked, { maxDepth: MAX_JSON_NESTING, rootLevel: 0, underflowMark: UNDERFLOW_MARK }));
  }
  if (errors.length === 0) errors.push(...repeatedNames(text));
  if (errors.length > 0) throw new ProblemError("validation", "the body holds values the API does not accept", { errors });
  return value;
}

/**
 * A body whose top-level value must be a JSON object, as every route's body is. valibot's object schemas take an
 * array too (it is an object to JavaScript), so `[]` was read as `{}` by routes whose fields are all optional.
 */
function parseJsonObject(text: string): Record<string, unknown> {
  const value = parseJsonBody(text);
  if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  const got = Array.isArray(value) ? "an array" : value === null ? "null" : `a ${typeof value}`;
  throw new ProblemError("validation", "the body must be a JSON object", { errors: [{ field: "(body)", message: `expected a JSON object, got ${got}` }] });
}

/**
 * Validates query parameters (each a single string); names and values follow the input rules, percent-encoded bytes
 * included (they must be UTF-8: `?label=k:%FF` was read as U+FFFD and answered 200). A parameter given
 * twice is refused rather than read as one of its values (`?limit=1&limit=500` answered a page of one).
 */
export function readQuery<S extends v.GenericSchema>(c: Context, schema: S): v.InferOutput<S> {
  const given = Object.entries(c.req.queries());
  const errors = [...queryEncodingErrors(c.req.url), ...textFieldHazards(given.flatMap(([name, values]) => values.map((value) => [name, value] as const)), "query.")];
  for (const [name, values] of given) {
    if (values.length > 1 && textHazard(name) === undefined) errors.push({ field: `query.${name}`, message: `given ${values.length} times; this parameter takes one value` });
  }
  if (errors.length > 0) throw new ProblemError("validation", "the query string holds values the API does not accept", { errors });
  return parseOrProblem(schema, Object.fromEntries(given.map(([name, values]) => [name, values[0]])), "query");
}

/** Validates a path parameter as a UUID; a malformed id is simply not found (it cannot exist). */
export function uuidParam(c: Context, name: string): string {
  const value = c.req.param(name) ?? "";
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) {
    throw new ProblemError("not-found", `no such ${name.replace(/_id$/, "").replace(/_/g, " ")}`);
  }
  return value.toLowerCase();
}
