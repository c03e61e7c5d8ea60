/**
 * A batch the worker's local queue fetched runs in the order graphile-worker selected it (priority, then due time,
 * then age), not in the order its `UPDATE … RETURNING` handed the rows back: with a hash join that was heap order,
 * and a narrow flush's job (priority 0) queued after a wide burst (priority 1) ran after the burst's jobs of the same
 * batch (widePriority.test.ts saw 214 deliveries ahead of it in one CI run).
 */
import type { Job } from "graphile-worker";
import { describe, expect, it } from "vitest";
import { inQueueOrder } from "../../src/worker/runner.ts";

const job = (id: string, priority: number, runAt: string): Job => ({ id, priority, run_at: new Date(runAt) }) as Job;

describe("a fetched batch", () => {
  it("is sorted in place by priority, then due time, then id (as a number)", () => {
    const batch = [
      job("9", 1, "2026-01-01T00:00:00Z"),
      job("10", 1, "2026-01-01T00:00:00Z"),
      job("11", 0, "2026-01-01T00:00:05Z"),
      job("2", 1, "2025-12-31T23:59:59Z"),
      job("12", 0, "2026-01-01T00:00:01Z"),
    ];
    inQueueOrder(batch);
    expect(batch.map((item) => item.id)).toEqual(["12", "11", "2", "9", "10"]);
  });
});
