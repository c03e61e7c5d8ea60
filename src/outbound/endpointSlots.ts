/**
 * Per-endpoint concurrency inside one worker process: at most `limit` requests in flight to one subscription.
 *
 * Why: measured with three subscriptions, one answering after 300 ms, the healthy endpoints' arrival lag p99 grew
 * from 1.9 s to 6.7 s within 40 s, because the slow one held every worker slot. A delivery that cannot get a slot
 * within a short wait is handed back to the queue (its schedule intact, no attempt recorded) instead of holding a
 * slot that a healthy endpoint could use.
 */
export class EndpointSlots {
  private readonly inUse = new Map<string, number>();
  private readonly waiters = new Map<string, (() => void)[]>();
  /** Per endpoint with slots in use: when one was last given back (or, before any was, first taken). */
  private readonly lastReturned = new Map<string, number>();

  /**
   * How long every one of the endpoint's `limit` slots has been taken without one coming back, in ms; 0 while one
   * is free. A hanging endpoint's slots stay out for its whole timeout: deliveries to it need not wait for one.
   */
  stalledMs(endpoint: string, limit: number): number {
    if ((this.inUse.get(endpoint) ?? 0) < limit) return 0;
    return Date.now() - (this.lastReturned.get(endpoint) ?? Date.now());
  }

  /**
   * Takes a slot for `endpoint`, waiting up to `waitMs` for one; false when none came free in time.
   *
   * @example
   * if (await slots.acquire(subscriptionId, 8, 250)) try { await send(); } finally { slots.release(subscriptionId); }
   */
  async acquire(endpoint: string, limit: number, waitMs: number): Promise<boolean> {
    const used = this.inUse.get(endpoint) ?? 0;
    if (used < limit) {
      if (used === 0) this.lastReturned.set(endpoint, Date.now());
      this.inUse.set(endpoint, used + 1);
      return true;
    }
    if (waitMs <= 0) return false;
    return new Promise<boolean>((resolve) => {
      const queue = this.waiters.get(endpoint) ?? [];
      this.waiters.set(endpoint, queue);
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        const at = queue.indexOf(wake);
        if (at >= 0) queue.splice(at, 1);
        if (queue.length === 0 && this.waiters.get(endpoint) === queue) this.waiters.delete(endpoint);
        resolve(false);
      }, waitMs);
      queue.push(wake);
    });
  }

  /** Gives a slot back: to the longest waiter if there is one (the slot changes hands without being freed). */
  release(endpoint: string): void {
    const queue = this.waiters.get(endpoint);
    const next = queue?.shift();
    if (queue && queue.length === 0) this.waiters.delete(endpoint);
    this.lastReturned.set(endpoint, Date.now());
    if (next) {
      next();
      return;
    }
    const used = (this.inUse.get(endpoint) ?? 1) - 1;
    if (used > 0) this.inUse.set(endpoint, used);
    else {
      this.inUse.delete(endpoint);
      this.lastReturned.delete(endpoint);
    }
  }
}
