/**
 * Authenticated tokens, cached per process so a request does not cost a database transaction.
 *
 * Revocation must still take effect at once on every API process: a trigger on api_tokens announces every change
 * (sql/018) and each process LISTENs and drops that token. When the listening connection is (re)established the
 * whole cache is dropped, since notifications sent while it was down are lost. A TTL bounds the damage of
 * anything else (e.g. a notification lost to a network fault before the dead connection is noticed). While the
 * listener is not connected the cache is bypassed: every request reads the token.
 * Unknown tokens are never cached: a token created a moment ago must work on every process at once.
 */
import type { Sql } from "../db/connect.ts";
import { listenForNotifications, type NotificationListener } from "../db/notificationListener.ts";
import type { Logger } from "../log.ts";
import { findTokenByHash, type AuthenticatedToken } from "./tokenStore.ts";

export const TOKEN_CHANGED_CHANNEL = "hookledger_token_changed";
const TTL_MS = 60_000;
const MAX_ENTRIES = 10_000;

export class TokenCache {
  private readonly entries = new Map<string, { token: AuthenticatedToken; at: number }>();
  private listener: NotificationListener | undefined;
  /** Bumped on every invalidation, so a lookup that raced one does not store what it read before it. */
  private generation = 0;

  constructor(
    private readonly sql: Sql,
    private readonly listen: { url: string; log: Logger },
  ) {}

  /** Starts listening for token changes (the cache is used once the listener is connected). */
  async start(): Promise<void> {
    this.listener ??= await listenForNotifications({
      url: this.listen.url,
      channel: TOKEN_CHANGED_CHANNEL,
      log: this.listen.log,
      onNotification: (hash) => this.forget(hash),
      onConnected: () => this.clear(),
    });
  }

  async stop(): Promise<void> {
    const listener = this.listener;
    this.listener = undefined;
    this.clear();
    await listener?.close();
  }

  /** The token with this SHA-256 (hex), from the cache or the database; undefined when there is none. */
  async find(sha256: string): Promise<AuthenticatedToken | undefined> {
    const cached = this.entries.get(sha256);
    if (cached && performance.now() - cached.at < TTL_MS && this.listener?.isListening()) return cached.token;
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

  /** Drops every cached token (this process changed tokens and must not wait for its own notification). */
  forgetAll(): void {
    this.clear();
  }

  private clear(): void {
    this.generation += 1;
    this.entries.clear();
  }
}
