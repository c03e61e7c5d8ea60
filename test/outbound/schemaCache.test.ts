/**
 * Compiled schemas are cached by size as well as by count: the validator of a large schema holds megabytes, and an
 * organization can have any number of event types.
 */
import { describe, expect, it } from "vitest";
import { assertValidPayloadSchema, compiledSchemaCache, payloadViolations } from "../../src/outbound/payloadSchema.ts";

/** 999 properties of one keyword each: ~2,000 in size, near the largest schema allowed. */
const large = (tag: string) => ({ type: "object", properties: Object.fromEntries(Array.from({ length: 999 }, (_, i) => [`${tag}_${i}`, { type: "string" }])) });

describe("the compiled-schema cache", () => {
  it("stays within its size, dropping the least recently used schema first, and still validates with any", () => {
    const { maxSize } = compiledSchemaCache();
    const first = large("first");
    assertValidPayloadSchema(first);
    const count = Math.ceil(maxSize / 2000) + 2;
    for (let n = 0; n < count; n++) {
      assertValidPayloadSchema(large(`s${n}`));
      // `first` is used all along, so it is never the least recently used.
      expect(payloadViolations(first, { first_0: 1 })).toEqual([{ field: "payload.first_0", message: "must be string" }]);
      expect(compiledSchemaCache().size).toBeLessThanOrEqual(maxSize);
    }
    const { entries, size } = compiledSchemaCache();
    expect(entries).toBeLessThan(count + 1);
    expect(size).toBeGreaterThan(maxSize - 4000);
    // A schema dropped from the cache is compiled again when it is next used, with the same answers.
    expect(payloadViolations(large("s0"), { s0_1: 2 })).toEqual([{ field: "payload.s0_1", message: "must be string" }]);
  });
});
