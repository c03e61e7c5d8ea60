/**
 * What the console and the portal read from a request, held to the API's input rules (src/http/inputRules.ts):
 * a posted form is read once, strictly (application/x-www-form-urlencoded, with no charset but UTF-8, each name and
 * value percent-decoded to bytes that must be UTF-8), and every form field and query value follows the same text
 * rules as a `/v1` body. A refusal is a `validation` problem listing each field and why; the console shows it as a
 * 400 page. A form declared in another charset is the 415 problem a `/v1` body in one is.
 */
import type { Context } from "hono";
import { requireUtf8Charset } from "../http/charset.ts";
import type { HttpEnv } from "../http/env.ts";
import { textFieldHazards } from "../http/inputRules.ts";
import { ProblemError, type FieldError } from "../http/problem.ts";
import { readRequestBytes } from "../http/requestBody.ts";
import { decodeUrlEncoded, queryEncodingErrors } from "../http/urlEncoded.ts";

export interface Form {
  /** Field values by name (the last one when a name repeats); a field that is not UTF-8 is left out. */
  fields: Record<string, string>;
  /** Why fields break the input rules; empty when none does. */
  errors: FieldError[];
}

const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(?:;|$)/i;
const forms = new WeakMap<Context<HttpEnv>, Promise<Form>>();

/**
 * Parses an application/x-www-form-urlencoded body. Unlike URLSearchParams, which turns bytes that are not UTF-8
 * into U+FFFD, a name or value that does not decode is an error naming the field.
 *
 * @example
 * parseUrlEncoded(new TextEncoder().encode("name=a%00b&note=%FF")).errors;
 * // [{ field: "note", message: "is not valid UTF-8 …" }, { field: "name", message: "contains the NUL character …" }]
 */
export function parseUrlEncoded(body: Uint8Array): Form {
  const decoded = decodeUrlEncoded(body);
  const pairs = new Map(decoded.pairs);
  return { fields: Object.fromEntries(pairs), errors: [...decoded.errors, ...textFieldHazards(pairs)] };
}

async function parseForm(c: Context<HttpEnv>): Promise<Form> {
  // A form declared in another charset is refused unread (415), not read as UTF-8: its names and values, percent-
  // decoded, are bytes of that charset.
  requireUtf8Charset(c, "forms");
  const body = await readRequestBytes(c);
  if (body.length === 0) return { fields: {}, errors: [] };
  if (!FORM_TYPE.test(c.req.header("content-type") ?? "")) {
    return { fields: {}, errors: [{ field: "(form)", message: "send the form as application/x-www-form-urlencoded, as the console's forms do" }] };
  }
  return parseUrlEncoded(body);
}

/**
 * The request's form, read once per request whoever asks first; it never throws for what the form holds (a form
 * declared in a charset other than UTF-8 is refused with 415, unread).
 */
export function readForm(c: Context<HttpEnv>): Promise<Form> {
  let form = forms.get(c);
  if (!form) {
    form = parseForm(c);
    forms.set(c, form);
  }
  return form;
}

/** Refuses (400 `validation`, each field and why) a request whose query values or posted form break the input rules. */
export async function assertAcceptableInput(c: Context<HttpEnv>): Promise<void> {
  const query = Object.entries(c.req.queries()).flatMap(([name, values]) => values.map((value) => [name, value] as const));
  const errors = [...queryEncodingErrors(c.req.url), ...textFieldHazards(query, "query.")];
  if (c.req.method === "POST") errors.push(...(await readForm(c)).errors);
  if (errors.length > 0) throw new ProblemError("validation", "The request holds text that cannot be accepted.", { errors });
}

/**
 * A form field as text: trimmed, empty when absent, and cut to `maxLength` UTF-16 units without splitting a
 * character (half a surrogate pair is text Postgres cannot store).
 */
export function formText(form: Form, name: string, maxLength = Number.POSITIVE_INFINITY): string {
  const value = (form.fields[name] ?? "").trim();
  if (value.length <= maxLength) return value;
  const cut = value.slice(0, maxLength);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}
