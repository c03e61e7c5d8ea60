/**
 * How many deliveries each organization scheduled through this process in the current second and the one before:
 * what makes a busy organization's new work yield to quiet ones (jobs.ts, `volumePriority`).
 *
 * Memory: only the organizations seen in those two seconds are kept; older seconds are dropped whole.
 *
 * @example
 * const volume = new RecentVolume();
 * volume.add(orgId, 40, Date.now()); // 40
 * volume.add(orgId, 10, Date.now()); // 50
 */
export class RecentVolume {
  private second = Number.NEGATIVE_INFINITY;
  private current = new Map<string, number>();
  private previous = new Map<string, number>();

  /** Counts `count` more deliveries of `orgId` at `nowMs`; answers the organization's total over the two seconds. */
  add(orgId: string, count: number, nowMs: number): number {
    const second = Math.floor(nowMs / 1000);
    if (second !== this.second) {
      this.previous = second === this.second + 1 ? this.current : new Map();
      this.current = new Map();
      this.second = second;
    }
    const total = (this.current.get(orgId) ?? 0) + count;
    this.current.set(orgId, total);
    return total + (this.previous.get(orgId) ?? 0);
  }
}
