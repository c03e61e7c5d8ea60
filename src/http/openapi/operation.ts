/** One documented HTTP operation, and the builder every capability's operation list uses. */
import type * as v from "valibot";

export interface Operation {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  /** Hono-style path (`/v1/events/:event_id`). */
  path: string;
  tag: string;
  summary: string;
  /** Scope the token needs (`instance admin` for the instance admin token); absent for public routes. */
  scope?: string;
  body?: v.GenericSchema;
  query?: v.GenericSchema;
  /** Status of a successful answer. */
  success: number;
}

/** Successful status defaults: 201 for POST, 204 for DELETE, 200 otherwise. */
export const operation = (method: Operation["method"], path: string, tag: string, summary: string, extra: Partial<Operation> = {}): Operation => ({
  method,
  path,
  tag,
  summary,
  success: method === "POST" ? 201 : method === "DELETE" ? 204 : 200,
  ...extra,
});
