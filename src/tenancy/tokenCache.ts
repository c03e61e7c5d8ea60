/**
 * Authenticated tokens, cached per process so a request does not cost a database transaction.
 *
 * Revocation must still take effect at once on every API process: a trigger on api_tokens announces every change
 * (sql/018) and each process LISTENs and drops that token. When the listening connection is (re)established the
 * whole cache is dropped, since notifications sent while it was down are lost. A TTL bounds the damage of
 * anything else (e.g. a notification lost to a network fault before postgres.js notices the dead connection).
 * Unknown tokens are never cached: a token created a moment ago must work on every process at once.
 */
import type { Sql } from "../db/connect.ts";
import { findTokenByHash, type AuthenticatedToken } from "./tokenStore.ts";

export const TOKEN_CHANGED_CHANNEL = "hookledger_token_changed";
const TTL_MS = 60_000;
const MAX_ENTRIES = 10_000;

export class TokenCache {
  private readonly entries = new Map<string, { token: AuthenticatedToken; at: number }>();
  private listening: { unlisten(): Promise<void> } | undefined;
  /** Bumped on every invalidation, so a lookup that raced one does not store what it read before it. */
  private generation = 0;

  constructor(private readonly sql: Sql) {}

  /** Starts listening for token changes; resolves once the listener is registered. */
  async start(): Promise<void> {
    this.listening ??= await this.sql.listen(
      TOKEN_CHANGED_CHANNEL,
      (hash) => this.forget(hash),
      () => this.clear(),
    );
  }

  /**
   * Stops using the cache. The listening connection is not sent an UNLISTEN: it closes with the pool, and a query
   * written to it while the database is going away made postgres.js throw outside any promise on Bun.
   */
  stop(): void {
    this.listening = undefined;
    this.clear();
  }

  /** The token with this SHA-256 (hex), from the cache or the database; undefined when there is none. */
  async find(sha256: string): Promise<AuthenticatedToken | undefined> {
    const cached = this.entries.get(sha256);
    if (cached && performance.now() - cached.at < TTL_MS && this.listening) return cached.token;
    const generation = this.generation;
    const token = await findTokenByHash(this.sql, sha256);
    if (token && generation === this.generation) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
      this.entries.set(sha256, { token, at: performance.now() });
    }
    return token;
  }

  private forget(sha256: string): void {
    this.generation += 1;
    this.entries.delete(sha256);
  }

  private clear(): void {
    this.generation += 1;
    this.entries.clear();
  }
}
