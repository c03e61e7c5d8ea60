import { describe, expect, it } from "vitest";
import { groupBy } from "../../src/collections/groupBy.ts";

describe("groupBy", () => {
  it("keeps every item, each group in the items' order and the groups in the order their keys first appear", () => {
    const groups = groupBy(["bee", "ant", "bat", "asp", "cow", "boa"], (word) => word[0]);
    expect([...groups]).toEqual([
      ["b", ["bee", "bat", "boa"]],
      ["a", ["ant", "asp"]],
      ["c", ["cow"]],
    ]);
  });

  it("takes any iterable and keys that are not strings", () => {
    const groups = groupBy(new Set([1, 2, 3, 4, 5]).values(), (n) => n % 2 === 0);
    expect(groups.get(true)).toEqual([2, 4]);
    expect(groups.get(false)).toEqual([1, 3, 5]);
  });

  it("groups a large batch into one group without losing or reordering items", () => {
    const items = Array.from({ length: 200_000 }, (_, i) => i);
    const groups = groupBy(items, () => "one");
    expect(groups.get("one")).toEqual(items);
  });

  it("answers an empty map for no items", () => {
    expect(groupBy([], () => "k").size).toBe(0);
  });
});
