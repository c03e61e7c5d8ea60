/**
 * Group commit: concurrent callers hand in one item each; items of the same key (a tenant) that arrive while a
 * flush of that key is running are written together by a later flush, in one transaction.
 *
 * Why: a commit costs a WAL flush and every statement a round trip. Measured on the 2-core box, one transaction
 * per event topped out near 160 events/s from 16 clients, while the same Postgres commits ~14k single-row
 * inserts/s; a transaction carrying many events pays those costs once per batch. Nothing waits on a timer: an
 * item arriving at an idle key is flushed at once (latency at rest stays one transaction), and batches grow only
 * when the database is the bottleneck, which is exactly when they help.
 *
 * Flushes run in lanes. A lane is what `openLane` gives (for a database writer, a connection: db/connectionLane.ts)
 * and runs its flushes one after the other. With `pipelineAfterMs`, once a lane's flush has run that long the
 * items waiting are handed to the same lane as its next flush, which the runner sends right behind the running
 * one: the database starts on it the moment the running one commits, instead of after this process has read the
 * result, answered its callers and built the next batch. Lanes beyond the first open only for slow flushes
 * (`extraFlushAfterMs`), to use another core of the database.
 *
 * Each caller's promise settles with its own item's result, only after the flush holding it has finished (the
 * runner decides what "finished" means: for ingestion, committed).
 */

/** What a runner answers for one item: its result, or the error only that item failed with. */
export type ItemOutcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

/** Writes one flush. `lane` is the lane it runs in (what `openLane` made); a pipelined flush shares its lane. */
export type BatchRunner<I, R, L> = (key: string, items: I[], lane: L) => Promise<ItemOutcome<R>[]>;

export interface GroupCommitOptions<L> {
  /** Most items one flush takes; the rest wait for the next one. */
  maxBatch: number;
  /** Lanes of one key allowed at the same time (each its own connection, so flushes that run at once). */
  maxConcurrentFlushes: number;
  /**
   * With this, a lane beyond the first opens only once every open lane's running flush has run this long: short
   * flushes (commit-bound) share one lane so each carries more items, long ones (work-bound, e.g. an event fanned
   * out to 100 subscriptions) get a second lane, and so a second core of the database.
   */
  extraFlushAfterMs?: number;
  /**
   * With this, a lane whose flush has run this long takes the items waiting as its next flush, sent behind the
   * running one (at most one waits in a lane). Without it a lane runs one flush at a time.
   */
  pipelineAfterMs?: number;
  /** Makes a lane's resource, once per lane, when a flush opens it. */
  openLane?: () => L;
}

interface Waiting<I, R> {
  item: I;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

interface Lane<L> {
  resource: L;
  /** Flushes handed to the lane and not finished: the running one, and at most one behind it. */
  flushes: number;
  /** When the lane's running flush started running (for one sent behind another: when that one finished). */
  runningSince: number;
}

interface KeyState<I, R, L> {
  waiting: Waiting<I, R>[];
  lanes: Lane<L>[];
  /** Starts flushes when a lane will have run long enough for one; timerAt is when. */
  timer?: ReturnType<typeof setTimeout> | undefined;
  timerAt?: number;
}

export class GroupCommit<I, R, L = undefined> {
  private readonly keys = new Map<string, KeyState<I, R, L>>();

  constructor(
    private readonly run: BatchRunner<I, R, L>,
    private readonly options: GroupCommitOptions<L>,
  ) {}

  /**
   * @example
   * const commits = new GroupCommit<string, number>(async (_key, items) => items.map((s) => ({ ok: true, value: s.length })), { maxBatch: 256, maxConcurrentFlushes: 2 });
   * await commits.submit(orgId, "abc"); // 3
   */
  submit(key: string, item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let state = this.keys.get(key);
      if (!state) {
        state = { waiting: [], lanes: [] };
        this.keys.set(key, state);
      }
      state.waiting.push({ item, resolve, reject });
      // A microtask later, so requests parsed in the same tick of the event loop share the flush.
      if (state.waiting.length === 1) queueMicrotask(() => this.startFlushes(key));
    });
  }

  /** Hands the waiting items to lanes while a lane can take them; else sets the timer for when one can. */
  private startFlushes(key: string): void {
    const state = this.keys.get(key);
    if (!state) return;
    while (state.waiting.length > 0) {
      const now = performance.now();
      const { lane, wait } = this.laneFor(state, now);
      if (lane) {
        this.flush(key, state, lane, state.waiting.splice(0, this.options.maxBatch));
        continue;
      }
      if (wait !== undefined && (state.timerAt === undefined || now + wait < state.timerAt)) {
        clearTimeout(state.timer);
        state.timerAt = now + wait;
        state.timer = setTimeout(() => {
          state.timer = state.timerAt = undefined;
          this.startFlushes(key);
        }, wait);
      }
      return;
    }
  }

  /** The lane the next flush goes to now, or how long until one can take it (undefined: when a flush ends). */
  private laneFor(state: KeyState<I, R, L>, now: number): { lane?: Lane<L>; wait?: number } {
    const { pipelineAfterMs, extraFlushAfterMs, maxConcurrentFlushes } = this.options;
    if (state.lanes.length === 0) return { lane: this.openLane(state, now) };
    let wait: number | undefined;
    const sooner = (ms: number) => (wait = wait === undefined ? ms : Math.min(wait, ms));
    if (pipelineAfterMs !== undefined) {
      for (const lane of state.lanes) {
        if (lane.flushes > 1) continue;
        const left = lane.runningSince + pipelineAfterMs - now;
        if (left <= 0) return { lane };
        sooner(left);
      }
    }
    if (state.lanes.length < maxConcurrentFlushes) {
      const left = extraFlushAfterMs === undefined ? 0 : Math.max(...state.lanes.map((lane) => lane.runningSince + extraFlushAfterMs - now));
      if (left <= 0) return { lane: this.openLane(state, now) };
      sooner(left);
    }
    return wait === undefined ? {} : { wait };
  }

  private openLane(state: KeyState<I, R, L>, now: number): Lane<L> {
    const lane: Lane<L> = { resource: this.options.openLane?.() as L, flushes: 0, runningSince: now };
    state.lanes.push(lane);
    return lane;
  }

  private flush(key: string, state: KeyState<I, R, L>, lane: Lane<L>, batch: Waiting<I, R>[]): void {
    lane.flushes += 1;
    void this.settle(key, lane, batch).finally(() => {
      lane.flushes -= 1;
      if (lane.flushes > 0) lane.runningSince = performance.now();
      else state.lanes.splice(state.lanes.indexOf(lane), 1);
      if (state.waiting.length > 0) this.startFlushes(key);
      else if (state.lanes.length === 0) {
        if (state.timer) clearTimeout(state.timer);
        this.keys.delete(key);
      }
    });
  }

  private async settle(key: string, lane: Lane<L>, batch: Waiting<I, R>[]): Promise<void> {
    let outcomes: ItemOutcome<R>[];
    try {
      outcomes = await this.run(
        key,
        batch.map((waiting) => waiting.item),
        lane.resource,
      );
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
      return;
    }
    batch.forEach((waiting, i) => {
      const outcome = outcomes[i];
      if (!outcome) waiting.reject(new Error("group commit: the runner returned no outcome for an item"));
      else if (outcome.ok) waiting.resolve(outcome.value);
      else waiting.reject(outcome.error);
    });
  }
}
