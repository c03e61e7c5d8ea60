/**
 * RFC 9457 problem details: the one error shape every route answers with.
 *
 * Types are stable URNs (`urn:hookledger:problem:<slug>`), so clients can branch on them; the list below is the
 * complete catalogue, and the README documents it. `errors` names each bad field and why.
 */
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from "../db/unavailable.ts";
import { rolledBackByConcurrency } from "../db/rolledBackByConcurrency.ts";
import { DecryptionError, UnknownKeyError } from "../crypto/errors.ts";

export const problemCatalogue = {
  "validation": { status: 400, title: "The request is not valid" },
  "malformed-json": { status: 400, title: "The request body is not valid JSON" },
  "unauthorized": { status: 401, title: "Authentication is required" },
  "forbidden": { status: 403, title: "The request is not allowed" },
  "quota-exceeded": { status: 403, title: "A quota of the organization is exhausted" },
  "not-found": { status: 404, title: "No such resource" },
  "method-not-allowed": { status: 405, title: "Method not allowed" },
  "request-timeout": { status: 408, title: "The request body did not arrive in time" },
  "conflict": { status: 409, title: "The request conflicts with the current state" },
  "uid-taken": { status: 409, title: "Another application of the organization has this uid" },
  "idempotency-conflict": { status: 409, title: "The idempotency key was used with a different request" },
  "idempotency-in-progress": { status: 409, title: "A request with the same idempotency key is still running", retryAfter: true },
  "payload-too-large": { status: 413, title: "The request body is too large" },
  "unsupported-media-type": { status: 415, title: "Unsupported content type" },
  "unprocessable": { status: 422, title: "The request is well-formed but cannot be processed" },
  "rate-limited": { status: 429, title: "Too many requests", retryAfter: true },
  // Never seen by the client, which is gone: the status the access log and metrics record for it (nginx's 499).
  "client-closed-request": { status: 499, title: "The client closed the connection before the request was read" },
  "internal": { status: 500, title: "Internal error" },
  "unavailable": { status: 503, title: "Service unavailable", retryAfter: true },
  // A secret stored by this instance that its encryption keyring cannot open (secretUnavailableProblem): 503, since
  // the instance, not the request, is at fault and it works again once an operator fixes the keyring, with no change
  // of code; no Retry-After, since when that happens is not the service's to tell.
  "secret-unavailable": { status: 503, title: "A stored secret cannot be opened with the instance's encryption keyring" },
  "timeout": { status: 503, title: "The request took too long", retryAfter: true },
  // Request bodies in memory are at HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT (bodyBudget.ts): this one was not read.
  "overloaded": { status: 503, title: "Too many request bodies are being received", retryAfter: true },
} as const;

/** Whether answers of this problem carry `Retry-After` (seconds), as the catalogue says: what the OpenAPI document shows. */
export function carriesRetryAfter(slug: ProblemSlug): boolean {
  const entry = problemCatalogue[slug];
  return "retryAfter" in entry && entry.retryAfter;
}

export type ProblemSlug = keyof typeof problemCatalogue;

export interface FieldError {
  /** Dotted path of the offending field (`event_type`, `headers.X-Foo`, `query.limit`). */
  field: string;
  message: string;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  request_id?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export const problemType = (slug: ProblemSlug): string => `urn:hookledger:problem:${slug}`;

/** 405 for a method a path does not serve, with `Allow` naming those it does (RFC 9110 §15.5.6). */
export const methodNotAllowed = (method: string, allow: readonly string[]): ProblemError =>
  new ProblemError("method-not-allowed", `${method} is not served here; use ${allow.join(", ")}`, { headers: { Allow: allow.join(", ") }, allow: [...allow] });

/** Field errors a problem lists at most; the rest are counted in one last entry. */
export const MAX_FIELD_ERRORS = 20;

/**
 * The first `MAX_FIELD_ERRORS` of `errors`, and then one entry (field `(more)`) saying how many more were found.
 * Every failing item of a list once became an entry: 100,000 bad scopes answered 22 MB.
 *
 * @example
 * capFieldErrors(Array(25).fill({ field: "scopes.0", message: "…" })).at(-1); // { field: "(more)", message: "5 more errors not listed" }
 */
export function capFieldErrors(errors: readonly FieldError[]): FieldError[] {
  const listed = errors.slice(0, MAX_FIELD_ERRORS).map(shortField);
  if (errors.length <= MAX_FIELD_ERRORS) return listed;
  const more = errors.length - MAX_FIELD_ERRORS;
  return [...listed, { field: "(more)", message: `${more} more error${more === 1 ? "" : "s"} not listed` }];
}

/**
 * Characters of each part of a field's name (between dots) an error repeats; a longer part (a header name or key a
 * client chose) ends in "…". Parts, not the whole name: a path 100 levels into a payload is long and every part of
 * it counts, where one 20,000-character header name was echoed whole.
 */
const MAX_FIELD_PART = 100;

/** The error with each part of its field's name cut to MAX_FIELD_PART. */
function shortField(error: FieldError): FieldError {
  if (error.field.length <= MAX_FIELD_PART) return error;
  const parts = error.field.split(".");
  if (parts.every((part) => part.length <= MAX_FIELD_PART)) return error;
  const cut = (part: string) => {
    if (part.length <= MAX_FIELD_PART) return part;
    const head = part.slice(0, MAX_FIELD_PART);
    return `${/[\uD800-\uDBFF]$/.test(head) ? head.slice(0, -1) : head}…`;
  };
  return { ...error, field: parts.map(cut).join(".") };
}

type ProblemExtras = { errors?: FieldError[]; headers?: Record<string, string>; [key: string]: unknown };

/** Thrown anywhere under a handler; the app's error handler turns it into the response. */
export class ProblemError extends Error {
  override readonly name = "ProblemError";
  readonly status: number;
  /** Extensions of the answer; `errors` capped here, once for every problem (the API's and the console's pages). */
  readonly extras: ProblemExtras;
  constructor(
    readonly slug: ProblemSlug,
    readonly detail?: string,
    extras: ProblemExtras = {},
  ) {
    super(detail ?? problemCatalogue[slug].title);
    this.status = problemCatalogue[slug].status;
    this.extras = extras.errors ? { ...extras, errors: capFieldErrors(extras.errors) } : extras;
  }

  toBody(instance?: string, requestId?: string): ProblemBody {
    const { headers: _headers, ...extensions } = this.extras;
    return {
      type: problemType(this.slug),
      title: problemCatalogue[this.slug].title,
      status: this.status,
      ...(this.detail ? { detail: this.detail } : {}),
      ...(instance ? { instance } : {}),
      ...(requestId ? { request_id: requestId } : {}),
      ...extensions,
    };
  }
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

export function problemResponse(problem: ProblemError, instance?: string, requestId?: string): Response {
  const headers = new Headers({ "content-type": PROBLEM_CONTENT_TYPE, ...(problem.extras.headers ?? {}) });
  return new Response(JSON.stringify(problem.toBody(instance, requestId)), { status: problem.status, headers });
}

/**
 * The answer for an error no handler expected, when the client can act on it: while the database cannot be
 * reached, 503 `unavailable` with Retry-After (it comes back by itself); undefined for everything else.
 *
 * @example
 * const problem = databaseUnavailableProblem(error) ?? new ProblemError("internal");
 */
export function databaseUnavailableProblem(error: unknown): ProblemError | undefined {
  return isDatabaseUnavailable(error) ? databaseUnavailable() : undefined;
}

/** 503 `unavailable` with Retry-After: the database cannot be reached right now. */
export function databaseUnavailable(): ProblemError {
  return new ProblemError("unavailable", "the database cannot be reached right now; retry later", {
    headers: { "Retry-After": String(DATABASE_RETRY_AFTER_SECONDS) },
  });
}

/**
 * The answer for a request that needs a secret stored encrypted (a subscription's signing secret or sealed header, an
 * ingress route's secret, a kept idempotent answer) which the keyring HOOKLEDGER_ENCRYPTION_KEYS cannot open: the key
 * it is under was removed too early or its id reused for another key, or the stored value was altered. Not the
 * client's doing: 503 `secret-unavailable`, saying nothing was done and that the operator's log tells more. The
 * detail names no setting, command, key id or value: the caller may be a tenant or, on `/in/...`, any sender on the
 * internet, and neither can fix a keyring; the log (logSecretUnavailable, attemptLoad.ts) names the key id and what
 * to check. Undefined for any other error.
 *
 * @example
 * const problem = secretUnavailableProblem(error) ?? new ProblemError("internal");
 */
export function secretUnavailableProblem(error: unknown): ProblemError | undefined {
  if (!(error instanceof UnknownKeyError || error instanceof DecryptionError)) return undefined;
  return new ProblemError(
    "secret-unavailable",
    "this instance cannot open a secret this request needs with its encryption keys; nothing was done; its operator's log says which key to check",
  );
}

/**
 * The answer for a request that lost a race no handler decided: two requests creating the same name or id at once,
 * where the one that lost met the database's unique key (409 `conflict`: repeating it shows what the other made),
 * or two transactions that deadlocked (503 with Retry-After: nothing was written, a retry succeeds). Handlers decide
 * the races they know about with the answer a sequential request gets; this keeps any other one from being a 500.
 *
 * @example
 * const problem = databaseUnavailableProblem(error) ?? lostRaceProblem(error) ?? new ProblemError("internal");
 */
export function lostRaceProblem(error: unknown): ProblemError | undefined {
  if ((error as { code?: unknown } | null)?.code === UNIQUE_VIOLATION) {
    return new ProblemError("conflict", "a concurrent request created or changed the same resource; repeat the request to see the outcome");
  }
  if (rolledBackByConcurrency(error)) {
    return new ProblemError("unavailable", "the request met a concurrent one and was undone; retry it", { headers: { "Retry-After": "1" } });
  }
  return undefined;
}

const UNIQUE_VIOLATION = "23505";

/**
 * Codes a request body read fails with when the client's connection goes away: Node's http server (`aborted`,
 * ECONNRESET), and stream errors; Bun rejects with a DOMException named AbortError ("The connection was closed.").
 */
const CONNECTION_ABORT_CODES = new Set(["ECONNRESET", "ECONNABORTED", "EPIPE", "ERR_STREAM_PREMATURE_CLOSE"]);

/**
 * Whether `error` is what reading from a connection that the client closed throws (not whether the client is gone:
 * pair it with the request's signal, or call it only on errors of reading the request body).
 */
export function isConnectionAbort(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { name, code, message } = error as { name?: unknown; code?: unknown; message?: unknown };
  return name === "AbortError" || (typeof code === "string" && CONNECTION_ABORT_CODES.has(code)) || message === "Client connection prematurely closed.";
}

/** The answer recorded for a request whose client went away before it was read (499; no one receives it). */
export function clientClosedRequest(): ProblemError {
  return new ProblemError("client-closed-request", "the client closed the connection before the request was read");
}

/**
 * The answer for an error that only says the client went away: its connection closed while the request was read
 * (mid-body), which the runtime reports by aborting the request's signal and failing the read. Not a server error:
 * 499, no error log, no error report. Undefined for anything else, including errors of a request whose client is
 * still there (a database ECONNRESET stays `unavailable`).
 *
 * @example
 * const problem = clientClosedProblem(error, c.req.raw) ?? databaseUnavailableProblem(error) ?? new ProblemError("internal");
 */
export function clientClosedProblem(error: unknown, request: Request): ProblemError | undefined {
  if (!request.signal.aborted) return undefined;
  return error === request.signal.reason || isConnectionAbort(error) ? clientClosedRequest() : undefined;
}
