/**
 * An application named by its id or by its `uid` (the caller's own identifier, e.g. its customer's id): the fields
 * that take either, and the reads that turn a uid into the id every command and row uses.
 *
 * A uid is never shaped like a UUID (the field refuses one), so a UUID-shaped reference is always an id and is
 * used as it is, with no read; anything else is a uid, looked up among the organization's live applications
 * (RLS as always: another organization's uid is simply not found).
 */
import * as v from "valibot";
import type { Queryable } from "../db/connect.ts";

const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Svix's uid alphabet and length. */
const UID_SHAPE = /^[a-zA-Z0-9._-]{1,256}$/;

export const isUuidShaped = (value: string): boolean => UUID_SHAPE.test(value);

/** An application's uid: 1-256 characters of letters, digits, `-`, `_` and `.`, never shaped like a UUID, nor `.` or `..`. */
export const uidField = v.pipe(
  v.string("expected a string"),
  v.description("Your own identifier for the application (your customer's id, say): 1-256 characters of letters, digits, '-', '_' and '.', never shaped like a UUID nor . or .. alone, unique among the organization's live applications. Every route that names an application takes it in place of the id."),
  v.regex(UID_SHAPE, "expected 1-256 characters of letters, digits, '-', '_' and '.'"),
  v.check((value) => !isUuidShaped(value), "must not be shaped like a UUID: a UUID names an application by its id"),
  // A path segment of . or .. is a step of the path (clients resolve it before sending, and so does the router):
  // an application with such a uid could never be named by it. Event ids refuse them for the same reason.
  v.check((value) => value !== "." && value !== "..", "must not be . or .. alone: no path can carry it"),
);

/**
 * An application's id or its uid, documented as `description` says; a UUID-shaped value comes out lower-cased, as ids
 * are stored. The description goes before the transform: a request body's document shows the input side of a pipe,
 * which ends there, so a description piped after this field would not be shown.
 */
export const appRefFieldDescribed = (description: string) =>
  v.pipe(
    v.string("expected an application id or uid"),
    v.description(description),
    v.regex(UID_SHAPE, "expected an application id (a UUID) or uid"),
    v.transform((value) => (isUuidShaped(value) ? value.toLowerCase() : value)),
  );

export const appRefField = appRefFieldDescribed("The application's id, or its uid.");

/** OpenAPI: the `app_id` path parameter of every route under `/v1/applications/{app_id}`. */
export const APP_ID_IN_PATH = {
  pathParameters: { app_id: "The application's id (a UUID) or its uid: a UUID-shaped value is always an id, anything else a uid." },
} as const;

/** A reference as given: an id (UUID-shaped) or a uid. */
export type AppRef = { id: string } | { uid: string };

/** The reference `value` is, or undefined when it can be neither (in a path: simply not found). */
export function appRefOf(value: string): AppRef | undefined {
  if (isUuidShaped(value)) return { id: value.toLowerCase() };
  return UID_SHAPE.test(value) ? { uid: value } : undefined;
}

/** The live application of the caller's organization that has this uid. */
export async function applicationIdOfUid(tx: Queryable, uid: string): Promise<string | undefined> {
  const [row] = await tx<{ app_id: string }[]>`
    select app_id from hookledger.applications
    where org_id = hookledger.current_org_id() and uid = ${uid} and deleted_at is null`;
  return row?.app_id;
}
