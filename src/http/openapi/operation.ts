/** One documented HTTP operation, and the builder every capability's operation list uses. */
import type * as v from "valibot";
import type { ProblemSlug } from "../problem.ts";

export interface Operation {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  /** Hono-style path (`/v1/events/:event_id`). */
  path: string;
  tag: string;
  summary: string;
  /** Scope the token needs (`instance admin` for the instance admin token); absent for public routes. */
  scope?: string;
  body?: v.GenericSchema;
  /** The body may be left out (every field optional; the handler reads it with readOptionalJson). */
  bodyOptional?: boolean;
  query?: v.GenericSchema;
  /** What a path parameter takes, by name, when its name does not say it all (`app_id`: an id or a uid). */
  pathParameters?: Readonly<Record<string, string>>;
  /** Status of a successful answer. */
  success: number;
  /** Body of a successful answer, the schema its handler's `present*` function returns; none for 204. */
  response?: v.GenericSchema;
  /** Media type of `response` when it is not JSON (`text/html`). */
  mediaType?: string;
  /**
   * Problems this operation answers besides those implied by its door, scope, body, query and path parameters
   * (see document.ts): `conflict`, `quota-exceeded`, …
   */
  problems?: readonly ProblemSlug[];
  /** Headers a successful answer may carry besides those every operation of its kind has (document.ts). */
  successHeaders?: Readonly<Record<string, { description: string; schema: Readonly<Record<string, unknown>> }>>;
  /** Answers that are neither the success nor a problem, by status (`/ready` answers 503 with its checks). */
  otherResponses?: Readonly<Record<number, { description: string; response: v.GenericSchema }>>;
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

/** A webhook the service sends (OpenAPI 3.1 `webhooks`): its name, what it means, and the body it carries. */
export interface WebhookDoc {
  name: string;
  summary: string;
  description: string;
  body: v.GenericSchema;
}
