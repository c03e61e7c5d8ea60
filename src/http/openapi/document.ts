/** Builds the OpenAPI 3.1 document from the operation catalogue and the handlers' valibot schemas. */
import { toJsonSchema } from "@valibot/to-json-schema";
import type * as v from "valibot";
import { VERSION } from "../../version.ts";
import { problemCatalogue, problemType } from "../problem.ts";
import type { Operation } from "./operation.ts";

type JsonObject = Record<string, unknown>;

/** Request shapes: the input side of each schema (before transforms such as trimming or date parsing). */
const jsonSchemaOf = (schema: v.GenericSchema): JsonObject =>
  toJsonSchema(schema, { target: "draft-2020-12", typeMode: "input", errorMode: "ignore" }) as JsonObject;

/** `/v1/events/:event_id` → `/v1/events/{event_id}`; a Hono regex (`:path{.+}`) is the handler's business, not the document's. */
const openApiPath = (path: string) => path.replace(/:(\w+)(?:\{[^}]*\})?/g, "{$1}");

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

function operationObject(operation: Operation): JsonObject {
  const pathParameters = [...operation.path.matchAll(/:(\w+)/g)].map((match) => ({ name: match[1], in: "path", required: true, schema: { type: "string" } }));
  const isPublic = !operation.path.startsWith("/v1/");
  return {
    tags: [operation.tag],
    summary: operation.summary,
    ...(operation.scope ? { description: `Requires: ${operation.scope}.` } : {}),
    operationId: `${operation.method.toLowerCase()}${operation.path.replace(/[/:{}-](\w)/g, (_, c: string) => c.toUpperCase()).replace(/[^A-Za-z0-9]/g, "")}`,
    ...(isPublic ? { security: [] } : {}),
    parameters: [...pathParameters, ...queryParameters(operation.query)],
    ...(operation.body ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchemaOf(operation.body) } } } } : {}),
    responses: {
      [String(operation.success)]: { description: operation.success === 204 ? "No content" : "Success" },
      default: { description: "A problem", content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } } },
    },
  };
}

export function openApiDocument(operations: readonly Operation[]): JsonObject {
  const paths: Record<string, JsonObject> = {};
  for (const operation of operations) {
    const path = openApiPath(operation.path);
    paths[path] = { ...(paths[path] ?? {}), [operation.method.toLowerCase()]: operationObject(operation) };
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
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "An API token (hl_adm_…, hl_org_… or hl_app_…)." } },
      schemas: {
        Problem: {
          type: "object",
          required: ["type", "title", "status"],
          properties: {
            type: { type: "string", enum: Object.keys(problemCatalogue).map((slug) => problemType(slug as keyof typeof problemCatalogue)) },
            title: { type: "string" },
            status: { type: "integer" },
            detail: { type: "string" },
            instance: { type: "string" },
            request_id: { type: "string" },
            errors: { type: "array", items: { type: "object", properties: { field: { type: "string" }, message: { type: "string" } } } },
          },
        },
      },
    },
  };
}
