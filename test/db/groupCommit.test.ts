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
