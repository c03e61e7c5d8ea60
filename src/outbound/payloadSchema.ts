/**
 * JSON Schema (draft 2020-12) for event payloads. Compiled validators are cached by schema text: compiling is
 * far slower than validating, and an event type's schema changes rarely.
 */
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const ajv = addFormats(new Ajv2020({ allErrors: true, strict: false }));
const cache = new Map<string, ValidateFunction>();
const MAX_CACHED = 1000;

export class InvalidPayloadSchemaError extends Error {
  override readonly name = "InvalidPayloadSchemaError";
}

function compiled(schema: object): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = cache.get(key);
  if (!validate) {
    try {
      validate = ajv.compile(schema);
    } catch (error) {
      throw new InvalidPayloadSchemaError(error instanceof Error ? error.message : "not a valid JSON Schema");
    }
    if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
    cache.set(key, validate);
  }
  return validate;
}

/** Throws InvalidPayloadSchemaError when `schema` is not a usable JSON Schema. */
export function assertValidPayloadSchema(schema: object): void {
  compiled(schema);
}

/** The payload's schema violations, as field/message pairs (empty when it conforms). */
export function payloadViolations(schema: object, payload: unknown): { field: string; message: string }[] {
  const validate = compiled(schema);
  if (validate(payload)) return [];
  return (validate.errors ?? []).slice(0, 20).map((error) => ({
    field: `payload${error.instancePath.replace(/\//g, ".")}`,
    message: error.message ?? "does not match the schema",
  }));
}
