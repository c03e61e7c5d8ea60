/** Field schemas shared by request bodies, so the same field is validated the same way everywhere. */
import * as v from "valibot";

export const nameField = v.pipe(v.string("expected a string"), v.trim(), v.minLength(1, "must not be empty"), v.maxLength(200, "at most 200 characters"));

export const descriptionField = v.nullable(v.pipe(v.string("expected a string or null"), v.maxLength(2000, "at most 2000 characters")));

export const metadataField = v.pipe(
  v.record(
    v.pipe(v.string(), v.minLength(1, "keys must not be empty"), v.maxLength(64, "keys are at most 64 characters")),
    v.pipe(v.string("metadata values must be strings"), v.maxLength(1024, "values are at most 1024 characters")),
    "expected an object of string values",
  ),
  v.check((value) => Object.keys(value).length <= 50, "at most 50 keys"),
);

export const uuidField = v.pipe(v.string("expected a UUID"), v.uuid("expected a UUID"), v.toLowerCase());

/** RFC 3339 timestamp with an explicit offset. */
export const timestampField = v.pipe(
  v.string("expected an RFC 3339 timestamp"),
  v.regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i, "expected an RFC 3339 timestamp such as 2026-01-31T12:00:00Z"),
  v.transform((value) => new Date(value)),
  v.check((date) => !Number.isNaN(date.getTime()), "not a real date"),
);
