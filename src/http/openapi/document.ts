/** Builds the OpenAPI 3.1 document from the operation catalogue and the handlers' valibot schemas. */
import { toJsonSchema, toJsonSchemaDefs, type ConversionConfig } from "@valibot/to-json-schema";
import type * as v from "valibot";
import { VERSION } from "../../version.ts";
import { carriesRetryAfter, PROBLEM_CONTENT_TYPE, problemCatalogue, type ProblemSlug } from "../problem.ts";
import { problemJson, schemaName } from "../responses.ts";
import type { Operation, WebhookDoc } from "./operation.ts";
import { groupBy } from "../../collections/groupBy.ts";

type JsonObject = Record<string, unknown>;

/** Request shapes: the input side of each schema (before transforms such as trimming or date parsing). */
const jsonSchemaOf = (schema: v.GenericSchema): JsonObject =>
  toJsonSchema(schema, { target: "draft-2020-12", typeMode: "input", errorMode: "ignore" }) as JsonObject;

/** `/v1/events/:event_id` → `/v1/events/{event_id}`; a Hono regex (`:path{.+}`) is the handler's business, not the document's. */
const openApiPath = (path: string) => path.replace(/:(\w+)(?:\{[^}]*\})?/g, "{$1}");

const PROBLEM_REF = { $ref: "#/components/schemas/Problem" };

function queryParameters(schema: v.GenericSchema | undefined): JsonObject[] {
  if (!schema) return [];
  const json = jsonSchemaOf(schema) as { properties?: Record<string, JsonObject>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: "query",
    required: json.required?.includes(name) ?? false,
    schema: property,
  }));
}

const isSchema = (value: unknown): value is v.GenericSchema =>
  typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "schema";

/** The schemas directly inside one: object entries, array items, wrapped, union options, record parts, pipe. */
function childSchemas(schema: v.GenericSchema): v.GenericSchema[] {
  const node = schema as unknown as Record<string, unknown>;
  const children: unknown[] = [node.wrapped, node.item, node.key, node.value, node.rest];
  if (typeof node.entries === "object" && node.entries !== null) children.push(...Object.values(node.entries));
  if (Array.isArray(node.options)) children.push(...(node.options as unknown[]));
  if (Array.isArray(node.pipe)) children.push(...(node.pipe as unknown[]));
  return children.filter(isSchema);
}

/** Every schema `named()` reachable from these roots, by name; the same name on two schemas is a bug. */
function namedSchemas(roots: readonly v.GenericSchema[]): Record<string, v.GenericSchema> {
  const found: Record<string, v.GenericSchema> = {};
  const seen = new Set<v.GenericSchema>();
  const visit = (schema: v.GenericSchema): void => {
    if (seen.has(schema)) return;
    seen.add(schema);
    const name = schemaName(schema);
    if (name !== undefined) {
      if (found[name] && found[name] !== schema) throw new Error(`two response schemas are named ${name}`);
      found[name] = schema;
    }
    childSchemas(schema).forEach(visit);
  };
  roots.forEach(visit);
  return found;
}

/**
 * Response shapes: the output side of each schema, named schemas as `$ref`s to `components.schemas`. A schema
 * that cannot be expressed as JSON Schema throws here, at start-up, rather than being documented as anything.
 */
function responseConverter(operations: readonly Operation[]) {
  const roots = operations.flatMap((operation) => [operation.response, ...Object.values(operation.otherResponses ?? {}).map((other) => other.response)]).filter(isSchema);
  const config = (definitions: Record<string, v.GenericSchema>): ConversionConfig => ({
    target: "draft-2020-12",
    typeMode: "output",
    errorMode: "throw",
    definitions,
    overrideRef: ({ referenceId }) => `#/components/schemas/${referenceId}`,
  });
  return {
    // Only the named schemas inside this one: converting all of them for every operation took 100 ms at start-up.
    convert(schema: v.GenericSchema): JsonObject {
      const { $schema: _dialect, $defs: _definitions, ...json } = toJsonSchema(schema, config(namedSchemas([schema]))) as JsonObject;
      return json;
    },
    components: toJsonSchemaDefs(namedSchemas([problemJson, ...roots]), config(namedSchemas([problemJson, ...roots]))) as Record<string, JsonObject>,
  };
}

/**
 * The problems an operation may answer: every one can fail internally; every `/v1` one needs a token, is rate
 * limited, can time out and refuses a content-coded body (Content-Encoding); a scope can be missing; a body or
 * query can be invalid (on a route that takes none, any parameter is), and a body can stall (408); a path parameter can name nothing; every `/v1` change may carry
 * an X-Audit-Reason that is too long; every `/v1` POST may carry an Idempotency-Key; a body may find the process's
 * budget of bodies full (503 `overloaded`) or its client's share of it taken (429 `rate-limited`, which every `/v1`
 * operation declares anyway). Anything else the operation declares. (`client-closed-request` is never
 * answered to anyone: the client is gone.)
 */
function problemsOf(operation: Operation): ProblemSlug[] {
  const slugs = new Set<ProblemSlug>(operation.problems ?? []);
  if (operation.path.startsWith("/v1/")) {
    for (const slug of ["unauthorized", "rate-limited", "timeout", "unsupported-media-type"] as const) slugs.add(slug);
    if (operation.scope) slugs.add("forbidden");
    // Every /v1 operation refuses a query string that breaks the input rules, or any parameter where it takes none.
    slugs.add("validation");
    if (operation.body) slugs.add("request-timeout");
    // A POST's body is read for its Idempotency-Key's digest even when the operation takes none: it can stall too.
    if (operation.method === "POST") for (const slug of ["idempotency-conflict", "idempotency-in-progress", "request-timeout"] as const) slugs.add(slug);
  }
  if (operation.body) for (const slug of ["validation", "malformed-json", "unsupported-media-type", "payload-too-large"] as const) slugs.add(slug);
  // A body, or a POST's (the receive door's any body), may not fit the process's budget of bodies in flight.
  if (operation.body || operation.method === "POST") slugs.add("overloaded");
  if (operation.query) slugs.add("validation");
  if (/:\w+/.test(operation.path)) slugs.add("not-found");
  slugs.add("internal");
  return [...slugs];
}

function problemResponses(operation: Operation): Record<string, JsonObject> {
  const byStatus = groupBy(problemsOf(operation), (slug) => problemCatalogue[slug].status);
  return Object.fromEntries(
    [...byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, slugs]) => {
        const waits = slugs.filter(carriesRetryAfter);
        return [
          String(status),
          {
            description: slugs.map((slug) => `${problemCatalogue[slug].title} (${slug})`).join("; "),
            ...(waits.length > 0 ? { headers: { "Retry-After": retryAfterHeader(waits.length === slugs.length ? [] : waits) } } : {}),
            content: { [PROBLEM_CONTENT_TYPE]: { schema: PROBLEM_REF } },
          },
        ];
      }),
  );
}

/** `Retry-After` on a problem answer; `only` names the problems of a shared status that carry it (none: all do). */
function retryAfterHeader(only: readonly ProblemSlug[]): JsonObject {
  const which = only.length > 0 ? ` (on ${only.join(", ")})` : "";
  return { description: `Seconds to wait before sending the request again${which}.`, schema: { type: "integer", minimum: 1 } };
}

/** A `/v1` POST's success may be a repeat's: the first request's answer again, marked. */
const REPLAYED_HEADER = {
  "Idempotent-Replayed": { description: "`true` when this is the answer kept under the request's Idempotency-Key, given again to a repeat.", schema: { type: "string", enum: ["true"] } },
};

function successResponse(operation: Operation, convert: (schema: v.GenericSchema) => JsonObject): JsonObject {
  const all = { ...(operation.method === "POST" && operation.path.startsWith("/v1/") ? REPLAYED_HEADER : {}), ...operation.successHeaders };
  const headers = Object.keys(all).length > 0 ? { headers: all } : {};
  if (!operation.response) return { description: operation.success === 204 ? "No content" : "Success", ...headers };
  return { description: "Success", ...headers, content: { [operation.mediaType ?? "application/json"]: { schema: convert(operation.response) } } };
}

/** Every `/v1` POST takes one (src/tenancy/idempotentRequests.ts, installed around every `/v1` handler). */
const IDEMPOTENCY_KEY_PARAMETER = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  description:
    "1-255 visible ASCII characters. A repeat with the same key (same token, method, path, query and body) within 24 hours gets the first 2xx answer again, with `Idempotent-Replayed: true`, instead of acting twice; after a 4xx or 5xx the key is free again. An answer that carried a secret shown once (a new token, a signing secret, a generated ingress secret, a portal link) is not kept: its repeats get 409 `idempotency-conflict` saying the request was done.",
  schema: { type: "string", minLength: 1, maxLength: 255, pattern: "^[\\x21-\\x7e]+$" },
};

function operationObject(operation: Operation, convert: (schema: v.GenericSchema) => JsonObject): JsonObject {
  const pathParameters = [...operation.path.matchAll(/:(\w+)/g)].map(([, name]) => {
    const description = name === undefined ? undefined : operation.pathParameters?.[name];
    return { name, in: "path", required: true, ...(description ? { description } : {}), schema: { type: "string" } };
  });
  const isPublic = !operation.path.startsWith("/v1/");
  const otherResponses = Object.entries(operation.otherResponses ?? {}).map(([status, other]) => [
    status,
    { description: other.description, content: { "application/json": { schema: convert(other.response) } } },
  ]);
  return {
    tags: [operation.tag],
    summary: operation.summary,
    ...(operation.scope ? { description: `Requires: ${operation.scope}.` } : {}),
    operationId: `${operation.method.toLowerCase()}${operation.path.replace(/[/:{}-](\w)/g, (_, c: string) => c.toUpperCase()).replace(/[^A-Za-z0-9]/g, "")}`,
    ...(isPublic ? { security: [] } : {}),
    parameters: [...pathParameters, ...queryParameters(operation.query), ...(operation.method === "POST" && !isPublic ? [IDEMPOTENCY_KEY_PARAMETER] : [])],
    ...(operation.body ? { requestBody: { required: operation.bodyOptional !== true, content: { "application/json": { schema: jsonSchemaOf(operation.body) } } } } : {}),
    responses: {
      [String(operation.success)]: successResponse(operation, convert),
      ...problemResponses(operation),
      ...Object.fromEntries(otherResponses),
      default: { description: "A problem", content: { [PROBLEM_CONTENT_TYPE]: { schema: PROBLEM_REF } } },
    },
  };
}

/** The webhooks the service sends, as OpenAPI 3.1 describes them: a request it makes, and what it expects back. */
function webhookObjects(webhooks: readonly WebhookDoc[]): JsonObject {
  return Object.fromEntries(
    webhooks.map((webhook) => [
      webhook.name,
      {
        post: {
          summary: webhook.summary,
          description: webhook.description,
          operationId: `webhook${webhook.name.replace(/(?:^|[._-])(\w)/g, (_, c: string) => c.toUpperCase())}`,
          requestBody: { required: true, content: { "application/json": { schema: jsonSchemaOf(webhook.body) } } },
          responses: { "2XX": { description: "Received: any 2xx answer ends the delivery." } },
        },
      },
    ]),
  );
}

export function openApiDocument(operations: readonly Operation[], webhooks: readonly WebhookDoc[] = []): JsonObject {
  const responses = responseConverter(operations);
  const paths: Record<string, JsonObject> = {};
  for (const operation of operations) {
    const path = openApiPath(operation.path);
    paths[path] = { ...(paths[path] ?? {}), [operation.method.toLowerCase()]: operationObject(operation, responses.convert) };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "hookledger API",
      version: VERSION,
      description: "Self-hosted webhooks on Postgres: outbound fan-out with signed, retried deliveries. Errors are RFC 9457 problem details.",
    },
    servers: [{ url: "/" }],
    security: [{ bearer: [] }],
    paths,
    ...(webhooks.length > 0 ? { webhooks: webhookObjects(webhooks) } : {}),
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "An API token (hl_adm_…, hl_org_… or hl_app_…)." } },
      schemas: responses.components,
    },
  };
}
