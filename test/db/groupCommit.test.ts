/**
 * Group commit's flush policy: items arriving while a flush runs go together in the next one; with
 * extraFlushAfterMs, a second flush joins only when the running one is slow.
 */
import { describe, expect, it } from "vitest";
import { GroupCommit } from "../../src/db/groupCommit.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A runner that takes `ms` per flush and records the batches and the most flushes running at once. */
function slowRunner(ms: number) {
  const batches: number[][] = [];
  let running = 0;
  let peak = 0;
  const run = async (_key: string, items: number[]) => {
    running += 1;
    peak = Math.max(peak, running);
    batches.push(items);
    await sleep(ms);
    running -= 1;
    return items.map((item) => ({ ok: true as const, value: item * 2 }));
  };
  return { run, batches, peak: () => peak };
}

describe("group commit", () => {
  it("answers each item for itself and puts items that arrive during a flush into the next one", async () => {
    const runner = slowRunner(20);
    const commits = new GroupCommit(runner.run, { maxBatch: 100, maxConcurrentFlushes: 1 });
    const first = commits.submit("org", 1);
    await sleep(5);
    const rest = [2, 3, 4].map((item) => commits.submit("org", item));
    expect(await Promise.all([first, ...rest])).toEqual([2, 4, 6, 8]);
    expect(runner.batches).toEqual([[1], [2, 3, 4]]);
    expect(runner.peak()).toBe(1);
  });

  it("starts a second flush only once the running one has run extraFlushAfterMs", async () => {
    // Wide margins, so a busy machine's late timers do not change the order of events.
    const slow = slowRunner(600);
    const commits = new GroupCommit(slow.run, { maxBatch: 100, maxConcurrentFlushes: 2, extraFlushAfterMs: 250 });
    const first = commits.submit("org", 1);
    await sleep(2);
    const second = commits.submit("org", 2);
    await sleep(5);
    // Early in a 600 ms flush: the second item still waits.
    expect(slow.batches).toEqual([[1]]);
    await sleep(400);
    // Past 250 ms: a second flush took it, beside the first.
    expect(slow.batches).toEqual([[1], [2]]);
    expect(await Promise.all([first, second])).toEqual([2, 4]);
    expect(slow.peak()).toBe(2);

    // Flushes shorter than extraFlushAfterMs never overlap.
    const quick = slowRunner(5);
    const quickCommits = new GroupCommit(quick.run, { maxBatch: 100, maxConcurrentFlushes: 2, extraFlushAfterMs: 250 });
    const all: Promise<number>[] = [];
    for (let i = 0; i < 10; i++) {
      all.push(quickCommits.submit("org", i));
      await sleep(1);
    }
    await Promise.all(all);
    expect(quick.peak()).toBe(1);
  });

  it("fails only the items its runner failed, and every item of a batch whose runner threw", async () => {
    const commits = new GroupCommit<number, number>(
      async (_key, items) => {
        if (items.includes(99)) throw new Error("database away");
        return items.map((item) => (item % 2 === 0 ? { ok: true, value: item } : { ok: false, error: new Error(`odd ${item}`) }));
      },
      { maxBatch: 100, maxConcurrentFlushes: 1 },
    );
    const results = await Promise.allSettled([commits.submit("org", 2), commits.submit("org", 3)]);
    expect(results.map((result) => result.status)).toEqual(["fulfilled", "rejected"]);
    await expect(commits.submit("org", 99)).rejects.toThrow("database away");
  });
});

/**
 * A runner whose lanes run their flushes one after another, as a connection runs statements sent behind each
 * other: it records, per flush, its lane, its items, and when it was handed over and started running.
 */
function laneRunner(ms: number) {
  let lanes = 0;
  const flushes: { lane: number; items: number[]; handedAt: number; startedAt: number }[] = [];
  const openLane = () => ({ id: ++lanes, tail: Promise.resolve() });
  const run = async (_key: string, items: number[], lane: { id: number; tail: Promise<void> }) => {
    const flush = { lane: lane.id, items, handedAt: performance.now(), startedAt: 0 };
    flushes.push(flush);
    const done = lane.tail.then(async () => {
      flush.startedAt = performance.now();
      await sleep(ms);
    });
    lane.tail = done;
    await done;
    return items.map((item) => ({ ok: true as const, value: item }));
  };
  return { run, openLane, flushes };
}

describe("group commit with pipelined flushes", () => {
  it("hands the items waiting to the running flush's lane once it has run pipelineAfterMs, one flush behind it at most", async () => {
    const runner = laneRunner(400);
    const commits = new GroupCommit(runner.run, { maxBatch: 100, maxConcurrentFlushes: 1, pipelineAfterMs: 150, openLane: runner.openLane });
    const all = [commits.submit("org", 1)];
    await sleep(20);
    all.push(commits.submit("org", 2));
    await sleep(20);
    // Not yet: the running flush has run less than 150 ms.
    expect(runner.flushes.map((flush) => flush.items)).toEqual([[1]]);
    await sleep(200);
    // Handed to the same lane, behind the running flush.
    expect(runner.flushes.map((flush) => [flush.lane, flush.items])).toEqual([[1, [1]], [1, [2]]]);
    all.push(commits.submit("org", 3));
    await sleep(100);
    // The lane already has one flush waiting: item 3 waits in the group commit.
    expect(runner.flushes).toHaveLength(2);
    expect(await Promise.all(all)).toEqual([1, 2, 3]);
    const [first, second, third] = runner.flushes;
    expect(third?.items).toEqual([3]);
    // Each ran after the one before it, and the third was handed over only once the second had run 150 ms.
    expect(second?.startedAt).toBeGreaterThanOrEqual((first?.startedAt ?? 0) + 390);
    expect(third?.handedAt).toBeGreaterThanOrEqual((second?.startedAt ?? 0) + 140);
    expect(new Set(runner.flushes.map((flush) => flush.lane))).toEqual(new Set([1]));
  });

  it("opens a second lane only for a flush still running after extraFlushAfterMs, and a new lane once a lane is done", async () => {
    const runner = laneRunner(500);
    const commits = new GroupCommit(runner.run, { maxBatch: 100, maxConcurrentFlushes: 2, extraFlushAfterMs: 250, pipelineAfterMs: 100, openLane: runner.openLane });
    const all = [commits.submit("org", 1)];
    await sleep(150);
    all.push(commits.submit("org", 2)); // pipelined behind 1 (its lane's flush has run 100 ms)
    await sleep(5);
    all.push(commits.submit("org", 3)); // lane 1 is full; a second lane opens at 250 ms
    await sleep(20);
    expect(runner.flushes.map((flush) => [flush.lane, flush.items])).toEqual([[1, [1]], [1, [2]]]);
    await sleep(150);
    expect(runner.flushes.map((flush) => [flush.lane, flush.items])).toEqual([[1, [1]], [1, [2]], [2, [3]]]);
    expect(await Promise.all(all)).toEqual([1, 2, 3]);
    // Everything finished: the next item opens a fresh lane.
    await commits.submit("org", 4);
    expect(runner.flushes.at(-1)?.lane).toBe(3);
  });
});
