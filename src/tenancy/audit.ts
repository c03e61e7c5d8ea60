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

export function auditMeta(c: Context<HttpEnv>, options: { reasonRequired?: boolean } = {}): EntryMeta {
  const auth = c.get("auth");
  const rawReason = c.req.header("x-audit-reason")?.trim();
  if (options.reasonRequired && !rawReason) {
    throw new ProblemError("validation", "this operation needs a reason", {
      errors: [{ field: "header.X-Audit-Reason", message: "required by this instance's audit policy (HOOKLEDGER_REQUIRE_AUDIT_REASON)" }],
    });
  }
  if (rawReason && rawReason.length > 1000) {
    throw new ProblemError("validation", "the audit reason is too long", {
      errors: [{ field: "header.X-Audit-Reason", message: "at most 1000 characters" }],
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
    ...(userAgent ? { user_agent: userAgent.slice(0, 512) } : {}),
    ...(identity ? { connection_identity: identity.slice(0, 1024) } : {}),
  };
}
