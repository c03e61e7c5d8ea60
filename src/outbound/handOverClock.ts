/**
 * When a deliver job stops waiting for its sends and hands the rest over (see attempt.ts): at the latest after
 * `capMs`, and sooner once half of its deliveries are done, `stragglerMs` later. A job whose fast deliveries
 * answered in milliseconds then leaves after a fraction of a second, not after a hanging endpoint's timeout, and
 * an endpoint slower than its peers by less than `stragglerMs` is still waited for.
 *
 * @example
 * const clock = new HandOverClock(1_000, 300, deliveries.length);
 * clock.done(); // per delivery that finished (sent, or put off)
 * const allDone = await Promise.race([sends.then(() => true), clock.due]);
 * clock.stop();
 */
export class HandOverClock {
  /** Resolves false when the time to hand over has come. */
  readonly due: Promise<false>;
  private readonly timers: ReturnType<typeof setTimeout>[] = [];
  private fire: () => void = () => undefined;
  private finished = 0;
  private soon = false;

  constructor(
    capMs: number,
    private readonly stragglerMs: number,
    private readonly total: number,
  ) {
    this.due = new Promise<false>((resolve) => (this.fire = () => resolve(false)));
    this.timers.push(setTimeout(this.fire, capMs));
  }

  /** One delivery of the job finished. */
  done(): void {
    this.finished += 1;
    if (this.soon || this.finished * 2 < this.total) return;
    this.soon = true;
    this.timers.push(setTimeout(this.fire, this.stragglerMs));
  }

  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
  }
}
