/**
 * Browser sessions of the console and the portal: started by a token at sign-in or by a portal link, ended by
 * signing out or by expiry, each a ledger entry. A session carries a token's authority and nothing of its own:
 * every request re-reads that token, so revoking it ends the session's access at once, and the principal it yields
 * is the one the JSON API builds for the same token (a portal session: an application-scoped principal).
 */
import type { AppContext } from "../context.ts";
import type { Tx } from "../db/connect.ts";
import { withTenant } from "../db/tenant.ts";
import { STREAM_DOES_NOT_EXIST, type StreamAppend } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { StreamVersionConflictError } from "../ledger/errors.ts";
import type { Principal } from "../tenancy/principal.ts";
import { hasScope, type Scope } from "../tenancy/scopes.ts";
import type { TokenKind } from "../tenancy/tokenSecrets.ts";
import { credentialMatches, mintCredential, parseCredential, storeCredentialHash, type Credential } from "./credentials.ts";

export const sessionStream = (sessionId: string) => `console_session:${sessionId}`;

/** What a portal session may do: its application's subscriptions, events and deliveries, nothing organization-wide. */
export const PORTAL_SCOPES: Scope[] = ["applications:read", "subscriptions:read", "subscriptions:write", "events:read", "events:write"];
/** What a read-only portal session may do: look, and change nothing (no secret reveals either). */
export const PORTAL_READ_SCOPES: Scope[] = ["applications:read", "subscriptions:read", "events:read"];

/**
 * A portal session's scopes: the portal's (or their read part, for a read-only link) that the minting token still
 * holds. The token held them all when it minted the link; one whose scopes have narrowed since narrows its sessions.
 */
export function portalScopes(readOnly: boolean, tokenScopes: readonly string[]): Scope[] {
  return (readOnly ? PORTAL_READ_SCOPES : PORTAL_SCOPES).filter((scope) => hasScope(tokenScopes, scope));
}

export type Surface = "console" | "portal";

export interface Session {
  sessionId: string;
  surface: Surface;
  expiresAt: Date;
  principal: Principal;
  /** The cookie value, from which the session's CSRF token is derived. */
  credential: Credential;
}

export type SessionLookup = { kind: "active"; session: Session } | { kind: "expired" } | { kind: "none" };

interface SessionJoinRow {
  session_id: string;
  surface: Surface;
  app_id: string | null;
  expires_at: Date;
  ended_at: Date | null;
  end_reason: "signed_out" | "expired" | null;
  token_id: string;
  token_kind: TokenKind;
  token_app_id: string | null;
  label: string;
  scopes: string[];
  queues: string[] | null;
  token_expires_at: Date | null;
  revoked_at: Date | null;
  /** The session is an application's (a portal session) and that application is deleted. */
  app_gone: boolean;
  read_only: boolean;
}

/**
 * Starts a session inside the caller's tenant transaction and returns the cookie value. `alongside` appends
 * another stream in the same statement (a portal link's redemption, which must commit with its session or not).
 */
export async function startSession(
  ctx: AppContext,
  tx: Tx,
  orgId: string,
  input: { surface: Surface; tokenId: string; appId: string | null; portalLinkId: string | null; expiresAt: Date; readOnly?: boolean },
  meta: EntryMeta,
  alongside?: (sessionId: string) => StreamAppend,
): Promise<Credential> {
  const credential = mintCredential("hls", orgId);
  const started: StreamAppend = {
    stream: sessionStream(credential.id),
    expectedStreamVersion: STREAM_DOES_NOT_EXIST,
    entries: [
      {
        type: "console.session_started",
        data: {
          session_id: credential.id,
          surface: input.surface,
          token_id: input.tokenId,
          app_id: input.appId,
          portal_link_id: input.portalLinkId,
          expires_at: input.expiresAt.toISOString(),
          ...(input.readOnly ? { read_only: true } : {}),
        },
        meta,
      },
    ],
  };
  await ctx.ledger.recordMany(tx, alongside ? [alongside(credential.id), started] : [started]);
  await storeCredentialHash(tx, credential);
  return credential;
}

/** Ends a session once: a second end (sign-out racing expiry) finds the stream moved on and writes nothing. */
export async function endSession(ctx: AppContext, orgId: string, sessionId: string, reason: "signed_out" | "expired", meta: EntryMeta): Promise<void> {
  try {
    await withTenant(ctx.sql, orgId, (tx) =>
      ctx.ledger.record(tx, sessionStream(sessionId), 1, [{ type: "console.session_ended", data: { session_id: sessionId, reason }, meta }]),
    );
  } catch (error) {
    if (!(error instanceof StreamVersionConflictError)) throw error;
  }
}

export async function signOut(ctx: AppContext, session: Session, meta: EntryMeta): Promise<void> {
  await endSession(ctx, session.principal.orgId, session.sessionId, "signed_out", meta);
}

/**
 * The session a cookie names, with the principal of its token as it is now. A session past its expiry is ended
 * with a `console.session_ended` (expired) entry the first time it is presented; one the worker's sweep ended is
 * expired too.
 */
export async function findSession(ctx: AppContext, surface: Surface, cookie: string | undefined): Promise<SessionLookup> {
  const credential = parseCredential("hls", cookie);
  if (!credential) return { kind: "none" };
  const now = ctx.now();
  const row = await withTenant(ctx.sql, credential.orgId, async (tx) => {
    if (!(await credentialMatches(tx, credential))) return undefined;
    const [found] = await tx<SessionJoinRow[]>`
      select s.session_id, s.surface, s.app_id, s.expires_at, s.ended_at, s.end_reason, s.read_only, t.token_id, t.kind as token_kind, t.app_id as token_app_id,
             t.label, t.scopes, t.queues, t.expires_at as token_expires_at, t.revoked_at,
             (s.app_id is not null and (a.app_id is null or a.deleted_at is not null)) as app_gone
      from hookledger.console_sessions s
      join hookledger.api_tokens t on t.org_id = s.org_id and t.token_id = s.token_id
      left join hookledger.applications a on a.org_id = s.org_id and a.app_id = s.app_id
      where s.org_id = hookledger.current_org_id() and s.session_id = ${credential.id}`;
    return found;
  });
  if (!row || row.surface !== surface) return { kind: "none" };
  // Ended by the worker's sweep (expireSessionsTask.ts) before it was presented again: expired all the same, and said
  // so, as one presented past its expiry is (the sweep's turn decided which of the two the user saw).
  if (row.ended_at !== null) return row.end_reason === "expired" ? { kind: "expired" } : { kind: "none" };
  if (row.expires_at <= now) {
    await endSession(ctx, credential.orgId, row.session_id, "expired", { actor: { kind: "system" } });
    return { kind: "expired" };
  }
  // A deleted application ends its portal sessions as it ends its own tokens.
  if (row.revoked_at !== null || (row.token_expires_at !== null && row.token_expires_at <= now) || row.app_gone) return { kind: "none" };
  const principal: Principal =
    row.surface === "portal"
      ? { orgId: credential.orgId, tokenId: row.token_id, kind: "application", appId: row.app_id, label: `portal: ${row.label}`, scopes: portalScopes(row.read_only, row.scopes), queues: [] }
      : { orgId: credential.orgId, tokenId: row.token_id, kind: row.token_kind, appId: row.token_app_id, label: row.label, scopes: row.scopes, queues: row.queues };
  return { kind: "active", session: { sessionId: row.session_id, surface: row.surface, expiresAt: row.expires_at, principal, credential } };
}
