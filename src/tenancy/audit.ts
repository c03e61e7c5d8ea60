/**
 * The `meta` recorded with every mutation: actor (token id and label), request id, client IP, user agent, the
 * optional `X-Audit-Reason` and `X-Audit-Actor`, and the verified client certificate's subject on mutual TLS
 * listeners. Built from the request in one place so no handler forgets a field.
 */
import type { Context } from "hono";
import type { HttpEnv } from "../http/env.ts";
import { ProblemError } from "../http/problem.ts";
import { AUDIT_ACTOR_PATTERN, type EntryMeta } from "../ledger/entryMeta.ts";

/**
 * The `X-Audit-Actor` header, or undefined when absent; a malformed one is a 400 naming the header.
 *
 * @example
 * auditActor(c); // "deploy-ci" for `X-Audit-Actor: deploy-ci`
 */
export function auditActor(c: Context<HttpEnv>): string | undefined {
  const raw = c.req.header("x-audit-actor")?.trim();
  if (!raw) return undefined;
  if (!AUDIT_ACTOR_PATTERN.test(raw)) {
    throw new ProblemError("validation", "the audit actor is not valid", {
      errors: [{ field: "header.X-Audit-Actor", message: "1-128 printable ASCII characters" }],
    });
  }
  // The header sent twice arrives as one value joined by ", ": `deploy-ci, anyone` would pass a `deploy-` prefix
  // rule as one actor. An actor is one name, so a comma is refused.
  if (raw.includes(",")) {
    throw new ProblemError("validation", "the audit actor is not valid", {
      errors: [{ field: "header.X-Audit-Actor", message: "one actor, without commas (a header sent twice arrives joined by a comma)" }],
    });
  }
  return raw;
}

export interface AuditOptions {
  /** When true (HOOKLEDGER_REQUIRE_AUDIT_REASON), deletes and token operations must say why. */
  requireReason: boolean;
}

/**
 * Control characters other than tab and line breaks (ESC and the C1 CSI start terminal escape sequences), and the
 * bidirectional overrides and isolates (which reorder how the text around them reads): an audit reason is shown to
 * DBAs in psql and to users in the console and audit log as written, so it may not rewrite what they see.
 */
const UNSHOWABLE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/;

/**
 * A request header's value as its sender wrote it. HTTP hands a header over as bytes, and both runtimes give each
 * byte as one Latin-1 character, so the UTF-8 a client sends (curl sends a typed "café" as c a f C3 A9) read as
 * "cafÃ©", and "€" or a curly quote (E2 82 AC, E2 80 9C) as text holding C1 control characters; bytes that are valid
 * UTF-8 are read as UTF-8, anything else is left as it came.
 *
 * @example
 * headerText("caf\u00c3\u00a9"); // "café"
 */
export function headerText(raw: string): string {
  if (!/[\u0080-\u00ff]/.test(raw) || /[^\u0000-\u00ff]/.test(raw)) return raw;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(raw, "latin1"));
  } catch {
    return raw;
  }
}

/**
 * An audit reason as it is recorded, or a 400 naming `field` when it is too long (1000 characters) or holds a
 * character that could change how the audit log reads (UNSHOWABLE). Empty answers undefined.
 *
 * @example
 * auditReason("  rotating after the incident ", "header.X-Audit-Reason"); // "rotating after the incident"
 */
export function auditReason(raw: string | undefined, field: string): string | undefined {
  const reason = raw?.trim();
  if (!reason) return undefined;
  if (reason.length > 1000) throw new ProblemError("validation", "the audit reason is too long", { errors: [{ field, message: "at most 1000 characters" }] });
  const unshowable = UNSHOWABLE.exec(reason);
  if (unshowable) {
    const code = unshowable[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
    throw new ProblemError("validation", "the audit reason holds a character that cannot be shown", {
      errors: [{ field, message: `contains U+${code}: control characters other than tab and line breaks, and bidirectional overrides, would change how the audit log reads` }],
    });
  }
  return reason;
}

export function auditMeta(c: Context<HttpEnv>, options: { reasonRequired?: boolean } = {}): EntryMeta {
  const auth = c.get("auth");
  const header = c.req.header("x-audit-reason");
  const rawReason = auditReason(header === undefined ? undefined : headerText(header), "header.X-Audit-Reason");
  if (options.reasonRequired && !rawReason) {
    throw new ProblemError("validation", "this operation needs a reason", {
      errors: [{ field: "header.X-Audit-Reason", message: "required by this instance's audit policy (HOOKLEDGER_REQUIRE_AUDIT_REASON)" }],
    });
  }
  const actor = auditActor(c);
  return {
    actor: { kind: auth.kind === "instance_admin" ? "instance_admin" : "token", id: auth.tokenId, label: auth.label },
    ...requestMeta(c),
    ...(rawReason ? { reason: rawReason } : {}),
    ...(actor ? { audit_actor: actor } : {}),
  };
}

/**
 * The `User-Agent` as the ledger records it: read as UTF-8 where it is (headerText), each character that could
 * change how the audit log reads (UNSHOWABLE: DEL, C1 controls such as CSI, bidirectional overrides) as U+FFFD,
 * cut to 512 characters between characters. Anyone chooses it — a webhook sender, a console visitor before
 * sign-in — and it is shown as written in psql (event_log, audit_log), the console and GET /v1/audit-log, so it is
 * held to what a reason is held to; replaced rather than refused, since no request is refused for its user agent.
 */
export function recordedUserAgent(raw: string): string {
  return recordedText(headerText(raw), 512);
}

/**
 * A verified client certificate's subject as the ledger records it (`connection_identity`), held to the same rule:
 * the operator's CA vouches for who holds the certificate, not for what its subject's text does on a DBA's terminal,
 * and a subject's values may be any Unicode (a U+202E or a C1 CSI in `CN` came through Node's and Bun's subject text
 * as written). Cut to 1024 characters between characters.
 */
export function recordedConnectionIdentity(subject: string): string {
  return recordedText(subject, 1024);
}

/** Text recorded as shown: each UNSHOWABLE character as U+FFFD, cut to `max` UTF-16 units between characters. */
function recordedText(text: string, max: number): string {
  return cutBetweenCharacters(text.replace(new RegExp(UNSHOWABLE.source, "g"), "\uFFFD"), max);
}

/** The longest prefix of `text` of at most `max` UTF-16 units that does not end inside a surrogate pair. */
function cutBetweenCharacters(text: string, max: number): string {
  const cut = text.slice(0, max);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/**
 * What the ledger meta records of any request, whoever sends it (a token holder, a console visitor before sign-in,
 * a webhook sender): its id, client address, user agent and, over mutual TLS, the verified client certificate's
 * subject (`connection_identity`; serve/tls.ts sets `clientIdentity` only for a certificate that verified).
 */
export function requestMeta(c: Context<HttpEnv>): Omit<EntryMeta, "actor"> {
  const userAgent = c.req.header("user-agent");
  const identity = c.env?.clientIdentity;
  return {
    request_id: c.get("requestId"),
    ...(c.get("clientIp") ? { ip: c.get("clientIp") } : {}),
    ...(userAgent ? { user_agent: recordedUserAgent(userAgent) } : {}),
    ...(identity ? { connection_identity: recordedConnectionIdentity(identity) } : {}),
  };
}
