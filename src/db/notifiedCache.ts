/**
 * A per-process cache of rows that other processes may change, invalidated by NOTIFY: a trigger on the table
 * announces each changed key on a channel, and every process LISTENs and drops that key. When the listening
 * connection is (re)established the whole cache is dropped, since notifications sent while it was down are lost; a
 * TTL bounds the damage of anything else (a notification lost to a network fault before the dead connection is
 * noticed). While the listener is not connected the cache is bypassed: every lookup reads the database.
 * Misses are never cached: a row created a moment ago must be found on every process at once.
 *
 * The payload `*` drops every key (a trigger on TRUNCATE sends it).
 *
 * @example
 * const cache = new NotifiedCache<Row>({ url, log, channel: "my_table_changed", ttlMs: 60_000, maxEntries: 10_000 });
 * await cache.start();
 * const row = await cache.get(key, () => readRow(sql, key));
 */
import type { Logger } from "../log.ts";
import { listenForNotifications, type NotificationListener } from "./notificationListener.ts";

export const FORGET_EVERY_KEY = "*";

export interface NotifiedCacheOptions {
  /** Connection string for the LISTEN connection. */
  url: string;
  log: Logger;
  channel: string;
  ttlMs: number;
  maxEntries: number;
}

export class NotifiedCache<V> {
  private readonly entries = new Map<string, { value: V; at: number }>();
  private listener: NotificationListener | undefined;
  /** Bumped on every invalidation, so a read that raced one does not store what it read before it. */
  private generation = 0;

  constructor(private readonly options: NotifiedCacheOptions) {}

  /** Starts listening for changes (the cache is used once the listener is connected). */
  async start(): Promise<void> {
    this.listener ??= await listenForNotifications({
      url: this.options.url,
      channel: this.options.channel,
      log: this.options.log,
      onNotification: (key) => (key === FORGET_EVERY_KEY ? this.forgetAll() : this.forget(key)),
      onConnected: () => this.forgetAll(),
    });
  }

  async stop(): Promise<void> {
    const listener = this.listener;
    this.listener = undefined;
    this.forgetAll();
    await listener?.close();
  }

  /**
   * The value for `key`: cached when fresh and the listener is connected, else read with `load` (and cached when
   * found and no invalidation came meanwhile). `usable` may refuse a cached value (then it is read again).
   */
  async get(key: string, load: () => Promise<V | undefined>, usable: (value: V) => boolean = () => true): Promise<V | undefined> {
    const cached = this.entries.get(key);
    if (cached && performance.now() - cached.at < this.options.ttlMs && this.listener?.isListening() && usable(cached.value)) return cached.value;
    const generation = this.generation;
    const value = await load();
    if (value !== undefined && generation === this.generation) {
      this.entries.delete(key);
      if (this.entries.size >= this.options.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
      this.entries.set(key, { value, at: performance.now() });
    }
    return value;
  }

  /** Drops one key (this process changed it and must not wait for its own notification). */
  forget(key: string): void {
    this.generation += 1;
    this.entries.delete(key);
  }

  /** Drops every key. */
  forgetAll(): void {
    this.generation += 1;
    this.entries.clear();
  }
}
