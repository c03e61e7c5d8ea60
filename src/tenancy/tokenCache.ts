/**
 * Authenticated tokens, cached per process so a request does not cost a database transaction.
 *
 * Revocation must still take effect at once on every API process: a trigger on api_tokens announces every change
 * (sql/018) and each process LISTENs and drops that token (db/notifiedCache.ts, which also says what happens while
 * the listener is down). Unknown tokens are never cached: a token created a moment ago must work on every process
 * at once. The configured instance admin token is not in the database at all: it is checked against the
 * configuration (configuredAdminToken.ts).
 */
import type { Sql } from "../db/connect.ts";
import { NotifiedCache } from "../db/notifiedCache.ts";
import type { Logger } from "../log.ts";
import type { ConfiguredAdminToken } from "./configuredAdminToken.ts";
import { findTokenByHash, type AuthenticatedToken } from "./tokenStore.ts";

export const TOKEN_CHANGED_CHANNEL = "hookledger_token_changed";

export class TokenCache {
  private readonly cache: NotifiedCache<AuthenticatedToken>;
  private configured: ConfiguredAdminToken | undefined;

  constructor(
    private readonly sql: Sql,
    listen: { url: string; log: Logger },
  ) {
    this.cache = new NotifiedCache({ ...listen, channel: TOKEN_CHANGED_CHANNEL, ttlMs: 60_000, maxEntries: 10_000 });
  }

  /** Starts listening for token changes (the cache is used once the listener is connected). */
  start(): Promise<void> {
    return this.cache.start();
  }

  stop(): Promise<void> {
    return this.cache.stop();
  }

  /** Accepts the instance admin token this process was configured with (once it is registered). */
  acceptConfigured(token: ConfiguredAdminToken): void {
    this.configured = token;
  }

  /** The token with this SHA-256 (hex): the configured one, or one from the cache or the database; undefined when there is none. */
  find(sha256: string): Promise<AuthenticatedToken | undefined> {
    if (this.configured?.matches(sha256)) return Promise.resolve(this.configured.principal);
    return this.cache.get(sha256, () => findTokenByHash(this.sql, sha256));
  }

  /** Drops every cached token (this process changed tokens and must not wait for its own notification). */
  forgetAll(): void {
    this.cache.forgetAll();
  }
}
