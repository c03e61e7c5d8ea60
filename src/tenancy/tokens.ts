/** API tokens: creation (the token is returned once, only its hash is kept) and revocation. */
import { randomUUID } from "node:crypto";
import type { AppContext } from "../context.ts";
import { SYSTEM_ORG_ID, withTenant } from "../db/tenant.ts";
import { ANY_VERSION, STREAM_DOES_NOT_EXIST } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { StreamVersionConflictError } from "../ledger/errors.ts";
import { ProblemError } from "../http/problem.ts";
import { keepApplication } from "./applications.ts";
import { keepOrganization } from "./organizations.ts";
import { registerConfiguredAdminToken } from "./configuredAdminToken.ts";
import type { Scope } from "./scopes.ts";
import { generateApiToken, type GeneratedToken, type TokenKind } from "./tokenSecrets.ts";
import { getToken, getTokenForChange, instanceAdminTokenExists, type TokenRow } from "./tokenStore.ts";

export const tokenStream = (tokenId: string) => `token:${tokenId}`;

export class UnknownApplicationError extends Error {
  override readonly name = "UnknownApplicationError";
}

export interface CreatedToken {
  /** The token itself: shown once, never stored. */
  token: string;
  details: TokenRow;
}

export async function createToken(
  ctx: AppContext,
  orgId: string,
  input: { label: string; scopes: Scope[]; appId: string | null; expiresAt: Date | null; queues?: string[] | null },
  meta: EntryMeta,
): Promise<CreatedToken> {
  const kind: TokenKind = input.appId ? "application" : "organization";
  const generated = generateApiToken(kind);
  const tokenId = randomUUID();
  return withTenant(ctx.sql, orgId, async (tx) => {
    // Kept (share-locked) until commit, organization before application: a concurrent deletion of either, which
    // revokes the tokens it finds, waits for this one to exist, or this one finds it deleted.
    if (!(await keepOrganization(tx, orgId))) throw new ProblemError("not-found", "no such organization");
    if (input.appId && !(await keepApplication(tx, input.appId))) throw new UnknownApplicationError(input.appId);
    await ctx.ledger.record(tx, tokenStream(tokenId), STREAM_DOES_NOT_EXIST, [
      {
        type: "token.created",
        data: {
          token_id: tokenId,
          kind,
          app_id: input.appId,
          label: input.label,
          scopes: input.scopes,
          token_prefix: generated.prefix,
          token_sha256: generated.sha256,
          expires_at: input.expiresAt?.toISOString() ?? null,
          queues: input.queues ?? null,
        },
        meta,
      },
    ]);
    return { token: generated.token, details: (await getToken(tx, tokenId)) as TokenRow };
  });
}

export async function revokeToken(ctx: AppContext, orgId: string, tokenId: string, meta: EntryMeta): Promise<TokenRow | undefined> {
  return withTenant(ctx.sql, orgId, async (tx) => {
    const token = await getTokenForChange(tx, tokenId);
    if (!token) return undefined;
    if (!token.revoked_at) {
      await ctx.ledger.record(tx, tokenStream(tokenId), ANY_VERSION, [{ type: "token.revoked", data: { token_id: tokenId }, meta }]);
    }
    return getToken(tx, tokenId);
  });
}

async function recordInstanceAdminToken(ctx: AppContext, stream: string, expected: typeof ANY_VERSION | typeof STREAM_DOES_NOT_EXIST, generated: GeneratedToken, label: string) {
  const tokenId = randomUUID();
  await withTenant(ctx.sql, SYSTEM_ORG_ID, (tx) =>
    ctx.ledger.record(tx, stream, expected, [
      {
        type: "token.created",
        data: {
          token_id: tokenId,
          kind: "instance_admin",
          app_id: null,
          label,
          scopes: ["admin"],
          token_prefix: generated.prefix,
          token_sha256: generated.sha256,
          expires_at: null,
        },
        meta: { actor: { kind: "system" } },
      },
    ]),
  );
}

/**
 * On start-up: make sure an instance admin token exists. A configured token (HOOKLEDGER_ADMIN_TOKEN) is recorded
 * without its value or hash (configuredAdminToken.ts: it is checked against the configuration); otherwise, the first
 * start generates one and returns it to be printed once. Two processes starting together cannot both create one: the
 * second append finds the stream existing.
 */
export async function ensureInstanceAdminToken(ctx: AppContext, configured: string | undefined): Promise<string | undefined> {
  if (configured !== undefined) {
    await registerConfiguredAdminToken(ctx);
    return undefined;
  }
  const exists = await withTenant(ctx.sql, SYSTEM_ORG_ID, (tx) => instanceAdminTokenExists(tx));
  if (exists) return undefined;
  const generated = generateApiToken("instance_admin");
  try {
    await recordInstanceAdminToken(ctx, "instance:admin-token", STREAM_DOES_NOT_EXIST, generated, "generated on first start");
    return generated.token;
  } catch (error) {
    if (error instanceof StreamVersionConflictError) return undefined;
    throw error;
  }
}

/** `hookledger admin-token`: a new instance admin token, e.g. after the first one was lost or revoked. */
export async function createInstanceAdminToken(ctx: AppContext): Promise<string> {
  const generated = generateApiToken("instance_admin");
  await recordInstanceAdminToken(ctx, "instance:admin-token", ANY_VERSION, generated, "created with the admin-token command");
  return generated.token;
}
