/**
 * The instance admin token an operator configures (HOOKLEDGER_ADMIN_TOKEN): checked in memory against the
 * configured value, and never stored — neither its hash nor any of its characters.
 *
 * Why not by hash, as generated tokens are (tokenSecrets.ts): a generated token carries 256 random bits, so its
 * unsalted SHA-256 gives nothing away; an operator-chosen string of 32+ characters may be a passphrase, and its hash
 * in the ledger (append-only, in every backup) let whoever reads it test guesses offline — as did the first
 * characters kept as its prefix, and a stream name made from its hash that auditors read. Verification needs only the
 * configured value, which every API process has in its configuration. The ledger records that a configured token
 * exists (a fixed id, the label, a marker in place of a prefix), so audit entries, sessions and last use name it.
 *
 * Revoking it is changing the configuration: the value a process was started with is the one it accepts.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { AppContext } from "../context.ts";
import { SYSTEM_ORG_ID, withTenant } from "../db/tenant.ts";
import { STREAM_DOES_NOT_EXIST } from "../ledger/append.ts";
import { StreamVersionConflictError } from "../ledger/errors.ts";
import type { AuthenticatedToken } from "./tokenStore.ts";

/** One id for the configured token, whatever its value: it is the instance's, as the configuration is. */
export const CONFIGURED_ADMIN_TOKEN_ID = "00000000-0000-4000-8000-00000000c0f1";
export const CONFIGURED_ADMIN_TOKEN_LABEL = "configured (HOOKLEDGER_ADMIN_TOKEN)";
/** Shown where a generated token shows its first characters. */
export const CONFIGURED_TOKEN_PREFIX = "configured";

/**
 * Whether a `token.created` entry registered a configured token: the ones recorded since this module (no hash) and
 * the ones before it (recorded with the hash and first characters of the value, which projections no longer keep).
 */
export function isConfiguredAdminToken(data: { kind: string; label: string }): boolean {
  return data.kind === "instance_admin" && data.label === CONFIGURED_ADMIN_TOKEN_LABEL;
}

export class ConfiguredAdminToken {
  private readonly digest: Buffer;
  readonly principal: AuthenticatedToken = {
    orgId: SYSTEM_ORG_ID,
    tokenId: CONFIGURED_ADMIN_TOKEN_ID,
    kind: "instance_admin",
    appId: null,
    label: CONFIGURED_ADMIN_TOKEN_LABEL,
    scopes: ["admin"],
    queues: null,
    expiresAt: null,
    revokedAt: null,
  };

  constructor(token: string) {
    this.digest = createHash("sha256").update(token).digest();
  }

  /** Whether a presented token, given as its SHA-256 (hex, as authentication computes it), is this one. Constant-time. */
  matches(sha256: string): boolean {
    const presented = Buffer.from(sha256, "hex");
    return presented.length === this.digest.length && timingSafeEqual(presented, this.digest);
  }
}

/**
 * On start-up of an API process with HOOKLEDGER_ADMIN_TOKEN: records the configured token once per installation.
 * Two processes starting together cannot both record it: the second append finds the stream existing.
 */
export async function registerConfiguredAdminToken(ctx: AppContext): Promise<void> {
  try {
    await withTenant(ctx.sql, SYSTEM_ORG_ID, (tx) =>
      ctx.ledger.record(tx, `token:${CONFIGURED_ADMIN_TOKEN_ID}`, STREAM_DOES_NOT_EXIST, [
        {
          type: "token.created",
          data: {
            token_id: CONFIGURED_ADMIN_TOKEN_ID,
            kind: "instance_admin",
            app_id: null,
            label: CONFIGURED_ADMIN_TOKEN_LABEL,
            scopes: ["admin"],
            token_prefix: CONFIGURED_TOKEN_PREFIX,
            expires_at: null,
          },
          meta: { actor: { kind: "system" } },
        },
      ]),
    );
  } catch (error) {
    if (!(error instanceof StreamVersionConflictError)) throw error;
  }
}
