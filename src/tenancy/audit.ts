/**
 * The `meta` recorded with every mutation: actor (token id and label), request id, client IP, user agent and
 * the optional `X-Audit-Reason`. Built from the request in one place so no handler forgets a field.
 */
import type { Context } from "hono";
import type { HttpEnv } from "../http/env.ts";
import { ProblemError } from "../http/problem.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";

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
  const userAgent = c.req.header("user-agent");
  return {
    actor: { kind: auth.kind === "instance_admin" ? "instance_admin" : "token", id: auth.tokenId, label: auth.label },
    request_id: c.get("requestId"),
    ...(c.get("clientIp") ? { ip: c.get("clientIp") } : {}),
    ...(userAgent ? { user_agent: userAgent.slice(0, 512) } : {}),
    ...(rawReason ? { reason: rawReason } : {}),
  };
}
