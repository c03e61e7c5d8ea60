/**
 * Keyset pagination: lists are newest first; the cursor is an opaque token for the last item's sort key, so
 * pages stay stable while rows are added (unlike OFFSET).
 *
 * The cursor comes back from the client, so it is input like any other: each list declares the shape of its
 * cursor (a timestamp or a name for the key, a uuid or a name for the tie-breaker) and a cursor of another shape
 * is refused here, before its parts reach a `timestamptz` or `uuid` comparison in SQL (which answered 500).
 */
import * as v from "valibot";
import { instantInRange } from "./fields.ts";
import { ProblemError } from "./problem.ts";

export interface Cursor {
  /** Sort timestamp (ISO) or position, as text. */
  k: string;
  /** Tie-breaker id. */
  id: string;
}

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 250;

export const paginationQuery = {
  limit: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^\d+$/, "expected a whole number"),
      v.transform(Number),
      v.minValue(1, "expected at least 1"),
      v.maxValue(MAX_LIMIT, `expected at most ${MAX_LIMIT}`),
    ),
  ),
  after: v.optional(v.pipe(v.string(), v.maxLength(512, "cursor too long"))),
};

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString("base64url");
}

/**
 * What one part of a cursor holds: `timestamp` an ISO instant as `Date#toISOString` writes it (years 1-9999), `uuid` a UUID,
 * `position` a bigint ledger position, `name` a name or prefixed id (event type and queue names, event, route and
 * receipt ids: letters, digits and `_ . : -`).
 */
export type CursorPart = "timestamp" | "uuid" | "position" | "name";

export interface CursorShape {
  k: CursorPart;
  id: CursorPart;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_BIGINT = 9223372036854775807n;

const partIsValid: Record<CursorPart, (value: string) => boolean> = {
  // The round trip refuses dates that match the shape but do not exist (2026-02-30); the range is the one every
  // timestamp field applies (years 1-9999 UTC), so a cursor at year 0 never reaches a timestamptz comparison.
  timestamp: (value) => {
    if (!ISO_INSTANT.test(value)) return false;
    const date = new Date(value);
    return !Number.isNaN(date.getTime()) && date.toISOString() === value && instantInRange(date);
  },
  uuid: (value) => UUID.test(value),
  position: (value) => /^\d{1,19}$/.test(value) && BigInt(value) <= MAX_BIGINT,
  name: (value) => /^[A-Za-z0-9_.:-]{1,256}$/.test(value),
};

/** Lists keyed by name alone; the default only for lists that validate their cursor themselves. */
const NAME_CURSOR: CursorShape = { k: "name", id: "name" };

export function decodeCursor(raw: string | undefined, shape: CursorShape = NAME_CURSOR): Cursor | undefined {
  if (raw === undefined) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as Partial<Cursor> | null;
    const k = parsed?.k;
    const id = parsed?.id;
    if (typeof k === "string" && typeof id === "string" && partIsValid[shape.k](k) && partIsValid[shape.id](id)) return { k, id };
  } catch {
    // fall through to the problem below
  }
  throw new ProblemError("validation", "the cursor is not one this API issued", {
    errors: [{ field: "query.after", message: "expected a cursor from a previous page's next_cursor" }],
  });
}

/**
 * The page a list request asks for: its size (DEFAULT_LIMIT unless given) and the decoded cursor, if any, which
 * must have the list's shape.
 *
 * @example
 * const { limit, cursor } = pageRequest(readQuery(c, listQuery), { k: "timestamp", id: "uuid" }); // { limit: 50, cursor: undefined }
 */
export function pageRequest(
  query: { limit?: number | undefined; after?: string | undefined },
  shape: CursorShape,
): { limit: number; cursor: Cursor | undefined } {
  return { limit: query.limit ?? DEFAULT_LIMIT, cursor: decodeCursor(query.after, shape) };
}

/** Builds `{ data, next_cursor }` from `limit + 1` fetched rows. */
export function page<T>(rows: T[], limit: number, cursorOf: (row: T) => Cursor): { data: T[]; next_cursor: string | null } {
  const data = rows.slice(0, limit);
  const last = data.at(-1);
  return { data, next_cursor: rows.length > limit && last ? encodeCursor(cursorOf(last)) : null };
}

/**
 * The page of rows read with a byte budget (a running sum in SQL gives the rows past it no body): the rows up to
 * the first without its body, which is kept only to say that more follow, and the page's size — `limit`, or fewer
 * when the bodies filled the budget first. Pass both to `page`.
 *
 * @example
 * const { rows, pageSize } = pageWithinBudget(fetched, (row) => row.body === null, limit);
 * page(rows, pageSize, cursorOf);
 */
export function pageWithinBudget<R>(rows: R[], outsideBudget: (row: R) => boolean, limit: number): { rows: R[]; pageSize: number } {
  const cut = rows.findIndex(outsideBudget);
  if (cut === -1) return { rows, pageSize: limit };
  return { rows: rows.slice(0, cut + 1), pageSize: cut };
}
