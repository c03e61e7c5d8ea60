import { describe, expect, it } from "vitest";
import { OncePerInterval } from "../../src/collections/oncePerInterval.ts";

describe("OncePerInterval", () => {
  it("takes a key the first time, passes it over until the interval has run, then takes it with the count passed over", () => {
    let now = 1_000;
    const once = new OncePerInterval(60_000, 10, () => now);
    expect(once.take("sub_a")).toBe(0);
    expect(once.take("sub_a")).toBeUndefined();
    now += 59_999;
    expect(once.take("sub_a")).toBeUndefined();
    // Another key is its own.
    expect(once.take("sub_b")).toBe(0);
    now += 1;
    expect(once.take("sub_a")).toBe(2);
    // The count starts again from the time it was taken.
    expect(once.take("sub_a")).toBeUndefined();
    now += 60_000;
    expect(once.take("sub_a")).toBe(1);
    expect(once.take("sub_b")).toBe(0);
  });

  it("holds at most `limit` keys, dropping the least recently taken, which is then taken again at once", () => {
    let now = 0;
    const once = new OncePerInterval(1_000, 2, () => now);
    expect(once.take("a")).toBe(0);
    now += 1;
    expect(once.take("b")).toBe(0);
    now += 1;
    // "a" taken least recently: dropped for "c".
    expect(once.take("c")).toBe(0);
    expect(once.take("b")).toBeUndefined();
    expect(once.take("a")).toBe(0);
    // Taking "a" again dropped "b" (taken before "c").
    expect(once.take("c")).toBeUndefined();
    expect(once.take("b")).toBe(0);
  });
});
