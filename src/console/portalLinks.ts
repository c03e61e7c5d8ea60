/**
 * Portal links: an organization token mints a short-lived link for one application; the first browser to open it
 * gets a portal session limited to that application, and the link is spent. Single use is the ledger's
 * optimistic concurrency: redeeming appends to the link's stream at version 1 (just created), so of two
 * concurrent redemptions exactly one commits.
 */
import type { AppContext } from "../context.ts";
import { withTenant } from "../db/tenant.ts";
import { ANY_VERSION, STREAM_DOES_NOT_EXIST } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { StreamVersionConflictError } from "../ledger/errors.ts";
import { getApplication } from "../tenancy/applications.ts";
import { credentialMatches, mintCredential, parseCredential, storeCredentialHash, type Credential } from "./credentials.ts";
import { startSession } from "./sessions.ts";

export const portalLinkStream = (linkId: string) => `portal_link:${linkId}`;

export interface CreatedPortalLink {
  linkId: string;
  /** The link's secret part, shown once: `/portal/enter?link=<this>`. */
  link: string;
  expiresAt: Date;
}

/** Undefined when the application does not exist in the organization. */
export async function createPortalLink(ctx: AppContext, orgId: string, tokenId: string, appId: string, readOnly: boolean, meta: EntryMeta): Promise<CreatedPortalLink | undefined> {
  const credential = mintCredential("hlp", orgId);
  const expiresAt = new Date(ctx.now().getTime() + ctx.config.HOOKLEDGER_PORTAL_LINK_SECONDS * 1000);
  return withTenant(ctx.sql, orgId, async (tx) => {
    if (!(await getApplication(tx, appId))) return undefined;
    await ctx.ledger.record(tx, portalLinkStream(credential.id), STREAM_DOES_NOT_EXIST, [
      { type: "portal.link_created", data: { link_id: credential.id, app_id: appId, token_id: tokenId, expires_at: expiresAt.toISOString(), ...(readOnly ? { read_only: true } : {}) }, meta },
    ]);
    await storeCredentialHash(tx, credential);
    return { linkId: credential.id, link: credential.value, expiresAt };
  });
}

interface LinkRow {
  app_id: string;
  read_only: boolean;
  token_id: string;
  expires_at: Date;
  redeemed_at: Date | null;
  token_revoked_at: Date | null;
  token_expires_at: Date | null;
  app_deleted_at: Date | null;
}

/**
 * The organization and application a link opens, without spending it; undefined for a link that does not parse or
 * is unknown. For `/portal/enter` to ask before a link replaces a session the browser has open.
 */
export async function portalLinkTarget(ctx: AppContext, link: string | undefined): Promise<{ orgId: string; appId: string } | undefined> {
  const credential = parseCredential("hlp", link);
  if (!credential) return undefined;
  return withTenant(ctx.sql, credential.orgId, async (tx) => {
    if (!(await credentialMatches(tx, credential))) return undefined;
    const [row] = await tx<{ app_id: string }[]>`
      select app_id from hookledger.portal_links where org_id = hookledger.current_org_id() and link_id = ${credential.id}`;
    return row && { orgId: credential.orgId, appId: row.app_id };
  });
}

/** The session cookie for a valid, unspent link; undefined for anything else (unknown, spent, expired, revoked). */
export async function redeemPortalLink(ctx: AppContext, link: string | undefined, meta: Omit<EntryMeta, "actor">): Promise<Credential | undefined> {
  const credential = parseCredential("hlp", link);
  if (!credential) return undefined;
  const now = ctx.now();
  try {
    return await withTenant(ctx.sql, credential.orgId, async (tx) => {
      if (!(await credentialMatches(tx, credential))) return undefined;
      const [row] = await tx<LinkRow[]>`
        select l.app_id, l.read_only, l.token_id, l.expires_at, l.redeemed_at, t.revoked_at as token_revoked_at, t.expires_at as token_expires_at,
               a.deleted_at as app_deleted_at
        from hookledger.portal_links l
        join hookledger.api_tokens t on t.org_id = l.org_id and t.token_id = l.token_id
        join hookledger.applications a on a.org_id = l.org_id and a.app_id = l.app_id
        where l.org_id = hookledger.current_org_id() and l.link_id = ${credential.id}`;
      if (!row || row.redeemed_at || row.expires_at <= now || row.token_revoked_at || row.app_deleted_at) return undefined;
      if (row.token_expires_at && row.token_expires_at <= now) return undefined;
      const lifetime = new Date(now.getTime() + ctx.config.HOOKLEDGER_PORTAL_SESSION_MINUTES * 60_000);
      const expiresAt = row.token_expires_at && row.token_expires_at < lifetime ? row.token_expires_at : lifetime;
      const sessionMeta: EntryMeta = { ...meta, actor: { kind: "token", id: row.token_id, label: `portal link ${credential.id}` } };
      const session = await startSession(
        ctx,
        tx,
        credential.orgId,
        { surface: "portal", tokenId: row.token_id, appId: row.app_id, portalLinkId: credential.id, expiresAt, readOnly: row.read_only },
        sessionMeta,
        (sessionId) => ({
          stream: portalLinkStream(credential.id),
          expectedStreamVersion: 1,
          entries: [{ type: "portal.link_redeemed", data: { link_id: credential.id, session_id: sessionId }, meta: sessionMeta }],
        }),
      );
      return session;
    });
  } catch (error) {
    if (error instanceof StreamVersionConflictError) return undefined;
    throw error;
  }
}

/** Origins allowed to frame the organization's portal (CSP frame-ancestors); none by default. */
export async function portalOrigins(ctx: AppContext, orgId: string): Promise<string[]> {
  const [row] = await withTenant(ctx.sql, orgId, (tx) => tx<{ allowed_origins: string[] }[]>`
    select allowed_origins from hookledger.portal_settings where org_id = hookledger.current_org_id()`);
  return row?.allowed_origins ?? [];
}

export async function setPortalOrigins(ctx: AppContext, orgId: string, origins: string[], meta: EntryMeta): Promise<string[]> {
  await withTenant(ctx.sql, orgId, (tx) => ctx.ledger.record(tx, "portal_settings", ANY_VERSION, [{ type: "portal.origins_set", data: { allowed_origins: origins }, meta }]));
  return origins;
}
