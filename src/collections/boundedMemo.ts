/**
 * Remembers the results of a pure computation by key, at most `limit` of them (the oldest first out), for hot
 * paths that see the same few inputs over and over (a worker checks the same destination for every delivery).
 *
 * @example
 * const lengths = new BoundedMemo<number>(2);
 * lengths.get("abc", () => 3); // 3, computed
 * lengths.get("abc", () => 0); // 3, remembered
 */
export class BoundedMemo<V> {
  private readonly values = new Map<string, V>();

  constructor(private readonly limit: number) {}

  get(key: string, compute: () => V): V {
    if (this.values.has(key)) return this.values.get(key) as V;
    const value = compute();
    if (this.values.size >= this.limit) {
      const oldest = this.values.keys().next();
      if (!oldest.done) this.values.delete(oldest.value);
    }
    this.values.set(key, value);
    return value;
  }
}
