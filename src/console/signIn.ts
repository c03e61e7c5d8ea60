/**
 * Console sign-in: an API token is exchanged for a session cookie. The token is looked up exactly as bearer
 * authentication does (the token cache: by its SHA-256, as hookledger_authenticator, or the configured instance admin
 * token) and is never stored in the browser.
 */
import type { AppContext } from "../context.ts";
import { withTenant } from "../db/tenant.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import type { TokenCache } from "../tenancy/tokenCache.ts";
import { sha256Hex } from "../tenancy/tokenSecrets.ts";
import type { Credential } from "./credentials.ts";
import { startSession } from "./sessions.ts";

export type SignInResult = { kind: "signed_in"; credential: Credential; expiresAt: Date; instanceAdmin: boolean } | { kind: "refused" };

export async function signIn(ctx: AppContext, tokens: TokenCache, token: string, meta: Omit<EntryMeta, "actor">): Promise<SignInResult> {
  if (!/^\S{16,512}$/.test(token)) return { kind: "refused" };
  const found = await tokens.find(sha256Hex(token));
  const now = ctx.now();
  if (!found || found.revokedAt || (found.expiresAt && found.expiresAt <= now)) return { kind: "refused" };
  const lifetime = new Date(now.getTime() + ctx.config.HOOKLEDGER_CONSOLE_SESSION_MINUTES * 60_000);
  const expiresAt = found.expiresAt && found.expiresAt < lifetime ? found.expiresAt : lifetime;
  const credential = await withTenant(ctx.sql, found.orgId, (tx) =>
    startSession(
      ctx,
      tx,
      found.orgId,
      { surface: "console", tokenId: found.tokenId, appId: null, portalLinkId: null, expiresAt },
      { ...meta, actor: { kind: "token", id: found.tokenId, label: found.label } },
    ),
  );
  return { kind: "signed_in", credential, expiresAt, instanceAdmin: found.kind === "instance_admin" };
}
