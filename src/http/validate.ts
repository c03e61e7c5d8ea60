/**
 * Input validation at the edge: JSON bodies and query strings are parsed with valibot schemas, and every
 * failure becomes a problem+json naming each bad field and why.
 */
import type { Context } from "hono";
import * as v from "valibot";
import { ProblemError, type FieldError } from "./problem.ts";

export function fieldErrors(issues: readonly v.BaseIssue<unknown>[], prefix = ""): FieldError[] {
  return issues.map((issue) => {
    const path = issue.path?.map((item) => String(item.key)).join(".") ?? "";
    const unknownKey = issue.type === "strict_object" && issue.expected === "never";
    const message = unknownKey ? "unknown field" : issue.message;
    return { field: [prefix, path].filter(Boolean).join(".") || "(body)", message };
  });
}

/** Validates a value against a schema, throwing a 400 problem that lists every issue. */
export function parseOrProblem<S extends v.GenericSchema>(schema: S, value: unknown, prefix = ""): v.InferOutput<S> {
  const result = v.safeParse(schema, value, { abortEarly: false });
  if (result.success) return result.output;
  throw new ProblemError("validation", "one or more fields are invalid", { errors: fieldErrors(result.issues, prefix) });
}

/** Reads and validates a JSON request body. */
export async function readJson<S extends v.GenericSchema>(c: Context, schema: S): Promise<v.InferOutput<S>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) {
    throw new ProblemError("unsupported-media-type", "send the body as application/json");
  }
  return parseOrProblem(schema, parseJsonText(await c.req.text()));
}

function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ProblemError("malformed-json", "the body could not be parsed as JSON");
  }
}

/** Validates an optional JSON body: an empty body validates as `{}`. */
export async function readOptionalJson<S extends v.GenericSchema>(c: Context, schema: S): Promise<v.InferOutput<S>> {
  const text = await c.req.text();
  return parseOrProblem(schema, text.trim() === "" ? {} : parseJsonText(text));
}

/** Validates query parameters (each a single string). */
export function readQuery<S extends v.GenericSchema>(c: Context, schema: S): v.InferOutput<S> {
  return parseOrProblem(schema, c.req.query(), "query");
}

/** Validates a path parameter as a UUID; a malformed id is simply not found (it cannot exist). */
export function uuidParam(c: Context, name: string): string {
  const value = c.req.param(name) ?? "";
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) {
    throw new ProblemError("not-found", `no such ${name.replace(/_id$/, "").replace(/_/g, " ")}`);
  }
  return value.toLowerCase();
}
