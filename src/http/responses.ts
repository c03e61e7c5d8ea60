/**
 * Building blocks of response schemas. Each capability describes the JSON it answers with valibot (beside its
 * `present*` functions, whose return types are the schemas' outputs), and the OpenAPI document is generated from
 * the same schemas: the description cannot drift from the code without the type check failing.
 *
 * Response schemas describe the JSON on the wire, so timestamps are RFC 3339 strings (`iso(date)`), not Dates.
 */
import * as v from "valibot";
import { problemCatalogue, problemType, type ProblemSlug } from "./problem.ts";

/**
 * A schema the OpenAPI document names: it becomes `#/components/schemas/<name>`, and generated clients get a type
 * of that name (`components["schemas"]["Subscription"]`). Two different schemas may not share a name.
 *
 * @example
 * export const applicationJson = named("Application", v.object({ id: v.string(), name: v.string() }));
 */
export const named = <S extends v.GenericSchema>(name: string, schema: S) => v.pipe(schema, v.title(name));

/** The name `named` gave a schema, if any. */
export function schemaName(schema: v.GenericSchema): string | undefined {
  if (!("pipe" in schema) || !Array.isArray(schema.pipe)) return undefined;
  const title = (schema.pipe as readonly { kind: string; type: string; title?: unknown }[]).find((item) => item.kind === "metadata" && item.type === "title");
  return typeof title?.title === "string" ? title.title : undefined;
}

/** An instant in RFC 3339 (`2026-01-31T12:00:00.000Z`). */
export const timestamp = v.pipe(v.string(), v.isoTimestamp());
export const nullableTimestamp = v.nullable(timestamp);

export const iso = (date: Date): string => date.toISOString();
export const isoOrNull = (date: Date | null): string | null => (date === null ? null : date.toISOString());

export const stringMap = v.record(v.string(), v.string());

/** A page of a list: newest first; `next_cursor` goes in `?after=` for the next page, null on the last one. */
export const listOf = <S extends v.GenericSchema>(item: S) => v.object({ data: v.array(item), next_cursor: v.nullable(v.string()) });

/** The RFC 9457 body of every 4xx and 5xx answer (see problem.ts); extension members vary by type. */
export const problemJson = named(
  "Problem",
  v.looseObject({
    type: v.picklist(Object.keys(problemCatalogue).map((slug) => problemType(slug as ProblemSlug))),
    title: v.string(),
    status: v.pipe(v.number(), v.integer()),
    detail: v.optional(v.string()),
    instance: v.optional(v.string()),
    request_id: v.optional(v.string()),
    errors: v.optional(v.array(v.object({ field: v.string(), message: v.string() }))),
    // Extensions some problems carry (RFC 9457 §3.2): which policy or egress rule refused, the scope a token lacks,
    // the methods a path serves (405), a size limit (413), when to try again (429) and which quota is reached.
    rule: v.optional(v.string()),
    required_scope: v.optional(v.string()),
    allow: v.optional(v.array(v.string())),
    max_bytes: v.optional(v.number()),
    payload_bytes: v.optional(v.number()),
    retry_after_seconds: v.optional(v.number()),
    quota: v.optional(v.string()),
    limit: v.optional(v.number()),
  }),
);
