import { describe, expect, it } from "vitest";
import { deliveryItemsOf } from "../../src/outbound/deliverTask.ts";

const org = "6f1c1a9e-7a51-4b7e-9a6c-0d3c9c1c2b11";
const a = "00000000-0000-4000-8000-00000000000a";
const b = "00000000-0000-4000-8000-00000000000b";

describe("a deliver job's payload", () => {
  it("reads a flush's list of ids (sql/096) as one item per delivery, in order, each of the job's attempt", () => {
    expect(deliveryItemsOf({ org_id: org, attempt: 1, delivery_ids: [b, a] })).toEqual([
      { org_id: org, delivery_id: b, attempt: 1 },
      { org_id: org, delivery_id: a, attempt: 1 },
    ]);
  });

  it("reads the items the service builds, and the single item of the first version, as they are", () => {
    const items = [
      { org_id: org, delivery_id: a, attempt: 3 },
      { org_id: org, delivery_id: b, attempt: 2, manual: true as const },
    ];
    expect(deliveryItemsOf(items)).toEqual(items);
    expect(deliveryItemsOf({ org_id: org, delivery_id: a })).toEqual([{ org_id: org, delivery_id: a }]);
  });

  it("refuses a payload of no known shape, so the job fails visibly instead of delivering something else", () => {
    for (const payload of [
      { org_id: org, attempt: 1, delivery_ids: [] },
      { org_id: org, attempt: 0, delivery_ids: [a] },
      { org_id: org, delivery_ids: [a] },
      { org_id: org, attempt: 1, delivery_ids: ["not-a-uuid"] },
      { org_id: "x", attempt: 1, delivery_ids: [a] },
      [{ org_id: org }],
      null,
      "x",
    ]) {
      expect(() => deliveryItemsOf(payload), JSON.stringify(payload)).toThrow();
    }
  });
});
