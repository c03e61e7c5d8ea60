/**
 * Keyset pagination: lists are newest first; the cursor is an opaque token for the last item's sort key, so
 * pages stay stable while rows are added (unlike OFFSET).
 */
import * as v from "valibot";
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

export function decodeCursor(raw: string | undefined): Cursor | undefined {
  if (raw === undefined) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as Partial<Cursor>;
    if (typeof parsed.k === "string" && typeof parsed.id === "string") return { k: parsed.k, id: parsed.id };
  } catch {
    // fall through to the problem below
  }
  throw new ProblemError("validation", "the cursor is not one this API issued", {
    errors: [{ field: "query.after", message: "expected a cursor from a previous page's next_cursor" }],
  });
}

/**
 * The page a list request asks for: its size (DEFAULT_LIMIT unless given) and the decoded cursor, if any.
 *
 * @example
 * const { limit, cursor } = pageRequest(readQuery(c, listQuery)); // { limit: 50, cursor: undefined }
 */
export function pageRequest(query: { limit?: number | undefined; after?: string | undefined }): { limit: number; cursor: Cursor | undefined } {
  return { limit: query.limit ?? DEFAULT_LIMIT, cursor: decodeCursor(query.after) };
}

/** Builds `{ data, next_cursor }` from `limit + 1` fetched rows. */
export function page<T>(rows: T[], limit: number, cursorOf: (row: T) => Cursor): { data: T[]; next_cursor: string | null } {
  const data = rows.slice(0, limit);
  const last = data.at(-1);
  return { data, next_cursor: rows.length > limit && last ? encodeCursor(cursorOf(last)) : null };
}
