/**
 * Bearer-token authentication for every `/v1` route.
 *
 * Every failure (missing, malformed, unknown, expired, revoked) answers the same 401 with no hint which it was:
 * telling an attacker that a token exists but is revoked is information they should not get.
 */
import type { MiddlewareHandler } from "hono";
import type { AppContext } from "../context.ts";
import type { HttpEnv } from "../http/env.ts";
import { ProblemError } from "../http/problem.ts";
import { sha256Hex } from "./tokenSecrets.ts";
import type { TokenCache } from "./tokenCache.ts";
import type { TokenUsageTracker } from "./tokenUsage.ts";

const unauthorized = () =>
  new ProblemError("unauthorized", "send a valid API token as Authorization: Bearer <token>", {
    headers: { "WWW-Authenticate": 'Bearer realm="hookledger"' },
  });

export function authenticate(ctx: AppContext, usage: TokenUsageTracker, tokens: TokenCache): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S{16,512})$/i.exec(header);
    if (!match?.[1]) throw unauthorized();
    const token = await tokens.find(sha256Hex(match[1]));
    const now = ctx.now();
    if (!token || token.revokedAt || (token.expiresAt && token.expiresAt <= now)) throw unauthorized();
    c.set("auth", { orgId: token.orgId, tokenId: token.tokenId, kind: token.kind, appId: token.appId, label: token.label, scopes: token.scopes, queues: token.queues });
    usage.note(token.orgId, token.tokenId, now);
    await next();
    // Read your own writes: the change notification reaches this process's listener a moment after the commit,
    // and the caller's next request may come first. Requests that can revoke or change tokens (deleting an
    // application or organization, any token change) forget the cache here once they have succeeded.
    if (c.res.status < 400 && changesTokens(c.req.method, c.req.path)) tokens.forgetAll();
  };
}

function changesTokens(method: string, path: string): boolean {
  if (method === "GET" || method === "HEAD") return false;
  return method === "DELETE" || method === "PATCH" || path.startsWith("/v1/tokens") || path.startsWith("/v1/organizations");
}
