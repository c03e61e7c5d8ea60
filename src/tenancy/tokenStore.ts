/**
 * Reads of the api_tokens projection and the token_usage table (writes to api_tokens happen only in the
 * projection). Authentication runs before the tenant is known, as `hookledger_authenticator`, which may read the
 * few columns needed to authenticate across tenants and nothing else.
 */
import type { Queryable, Sql } from "../db/connect.ts";
import { withAuthenticator } from "../db/localRole.ts";
import type { Principal } from "./principal.ts";
import type { TokenKind } from "./tokenSecrets.ts";

export interface AuthenticatedToken extends Principal {
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export async function findTokenByHash(sql: Sql, sha256: string): Promise<AuthenticatedToken | undefined> {
  const rows = await withAuthenticator(sql, (tx) =>
    tx<
      { org_id: string; token_id: string; kind: TokenKind; app_id: string | null; label: string; scopes: string[]; queues: string[] | null; expires_at: Date | null; revoked_at: Date | null }[]
    >`select org_id, token_id, kind, app_id, label, scopes, queues, expires_at, revoked_at
      from hookledger.api_tokens where token_hash = decode(${sha256}, 'hex')`,
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    orgId: row.org_id,
    tokenId: row.token_id,
    kind: row.kind,
    appId: row.app_id,
    label: row.label,
    scopes: row.scopes,
    queues: row.queues,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}

export interface TokenRow {
  token_id: string;
  kind: TokenKind;
  app_id: string | null;
  label: string;
  scopes: string[];
  queues: string[] | null;
  token_prefix: string;
  expires_at: Date | null;
  revoked_at: Date | null;
  created_by: string | null;
  created_at: Date;
  last_used_at: Date | null;
}

const tokenColumns = `t.token_id, t.kind, t.app_id, t.label, t.scopes, t.queues, t.token_prefix, t.expires_at, t.revoked_at, t.created_by,
  t.created_at, u.last_used_at`;

export async function getToken(tx: Queryable, tokenId: string): Promise<TokenRow | undefined> {
  const [row] = await tx<TokenRow[]>`
    select ${tx.unsafe(tokenColumns)} from hookledger.api_tokens t
    left join hookledger.token_usage u on u.org_id = t.org_id and u.token_id = t.token_id
    where t.org_id = hookledger.current_org_id() and t.token_id = ${tokenId}`;
  return row;
}

/**
 * A token, read and locked against other changes until the transaction ends, so concurrent revocations are
 * decided one after another: the first records `token.revoked`, the others find it revoked and record nothing.
 */
export async function getTokenForChange(tx: Queryable, tokenId: string): Promise<TokenRow | undefined> {
  const [row] = await tx<TokenRow[]>`
    select ${tx.unsafe(tokenColumns)} from hookledger.api_tokens t
    left join hookledger.token_usage u on u.org_id = t.org_id and u.token_id = t.token_id
    where t.org_id = hookledger.current_org_id() and t.token_id = ${tokenId}
    for no key update of t`;
  return row;
}

export async function listTokens(
  tx: Queryable,
  options: { limit: number; after?: { createdAt: string; id: string }; appId?: string },
): Promise<TokenRow[]> {
  return tx<TokenRow[]>`
    select ${tx.unsafe(tokenColumns)} from hookledger.api_tokens t
    left join hookledger.token_usage u on u.org_id = t.org_id and u.token_id = t.token_id
    where t.org_id = hookledger.current_org_id()
      ${options.appId ? tx`and t.app_id = ${options.appId}` : tx``}
      ${options.after ? tx`and (t.created_at, t.token_id) < (${options.after.createdAt}::timestamptz, ${options.after.id}::uuid)` : tx``}
    order by t.created_at desc, t.token_id desc
    limit ${options.limit + 1}`;
}

/**
 * Whether an instance admin token that works without configuration exists. A configured one (stored without a hash)
 * works only while it is configured: a start without it generates a token, so the instance is never left without one.
 */
export async function instanceAdminTokenExists(tx: Queryable): Promise<boolean> {
  const [row] = await tx<{ n: number }[]>`
    select count(*)::int as n from hookledger.api_tokens
    where org_id = hookledger.current_org_id() and kind = 'instance_admin' and revoked_at is null and token_hash is not null`;
  return (row?.n ?? 0) > 0;
}

/** Records last-use times gathered in memory; one statement per organization. */
export async function recordTokenUsage(tx: Queryable, usage: { tokenId: string; at: Date }[]): Promise<void> {
  if (usage.length === 0) return;
  await tx`
    insert into hookledger.token_usage (org_id, token_id, last_used_at)
    select hookledger.current_org_id(), u.token_id, u.at
    from unnest(${usage.map((u) => u.tokenId)}::uuid[], ${usage.map((u) => u.at.toISOString())}::timestamptz[]) as u(token_id, at)
    on conflict (org_id, token_id) do update set last_used_at = greatest(hookledger.token_usage.last_used_at, excluded.last_used_at)`;
}
