/**
 * Per-endpoint slots inside one worker process: the limit, hand-over to a waiter, and how long an endpoint has been
 * stalled (every slot out, none come back) — what lets deliveries to a hanging endpoint skip the wait for a slot.
 */
import { describe, expect, it } from "vitest";
import { EndpointSlots } from "../../src/outbound/endpointSlots.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("EndpointSlots", () => {
  it("gives at most `limit` slots per endpoint, and a returned slot to the longest waiter", async () => {
    const slots = new EndpointSlots();
    expect(await slots.acquire("a", 2, 0)).toBe(true);
    expect(await slots.acquire("a", 2, 0)).toBe(true);
    expect(await slots.acquire("a", 2, 0)).toBe(false);
    expect(await slots.acquire("b", 2, 0)).toBe(true); // another endpoint has its own
    const first = slots.acquire("a", 2, 1000);
    const second = slots.acquire("a", 2, 30);
    slots.release("a");
    expect(await first).toBe(true);
    expect(await second).toBe(false); // nothing came back within its 30 ms
  });

  it("counts an endpoint stalled only while every slot is out and none has come back", async () => {
    const slots = new EndpointSlots();
    expect(slots.stalledMs("a", 2)).toBe(0);
    await slots.acquire("a", 2, 0);
    await sleep(30);
    expect(slots.stalledMs("a", 2)).toBe(0); // one slot still free
    await slots.acquire("a", 2, 0);
    await sleep(60);
    expect(slots.stalledMs("a", 2)).toBeGreaterThanOrEqual(55); // since the first was taken: none came back since
    slots.release("a");
    expect(slots.stalledMs("a", 2)).toBe(0);
    await slots.acquire("a", 2, 0);
    expect(slots.stalledMs("a", 2)).toBeLessThan(20); // full again, but a slot came back a moment ago
    await sleep(40);
    expect(slots.stalledMs("a", 2)).toBeGreaterThanOrEqual(35);
    slots.release("a");
    slots.release("a");
    expect(slots.stalledMs("a", 2)).toBe(0);
    // All returned: the endpoint's next busy spell is measured from its own start.
    await slots.acquire("a", 1, 0);
    expect(slots.stalledMs("a", 1)).toBeLessThan(20);
  });
});
