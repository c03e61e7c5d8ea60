/**
 * Says whether something done per key should be done now: the first time, then at most once every `intervalMs`,
 * counting the times passed over in between. For a log line a hot path would otherwise repeat on every pass (a
 * worker meets the same broken subscription on every load). Holds at most `limit` keys, the least recently taken
 * first out (a key dropped is taken again at once).
 *
 * @example
 * const once = new OncePerInterval(60_000);
 * once.take("sub_1"); // 0: do it now, nothing passed over
 * once.take("sub_1"); // undefined: not now (counted)
 * // a minute later:
 * once.take("sub_1"); // 1: do it now, once passed over since
 */
export class OncePerInterval {
  private readonly taken = new Map<string, { at: number; passedOver: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly limit = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** How many times `key` was passed over since it was last taken, when it is to be done now; else undefined. */
  take(key: string): number | undefined {
    const now = this.now();
    const last = this.taken.get(key);
    if (last && now - last.at < this.intervalMs) {
      last.passedOver += 1;
      return undefined;
    }
    this.taken.delete(key);
    if (this.taken.size >= this.limit) {
      const oldest = this.taken.keys().next();
      if (!oldest.done) this.taken.delete(oldest.value);
    }
    this.taken.set(key, { at: now, passedOver: 0 });
    return last?.passedOver ?? 0;
  }
}
