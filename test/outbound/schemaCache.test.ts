/**
 * Compiled schemas are cached by size as well as by count: the validator of a large schema holds megabytes, and an
 * organization can have any number of event types.
 */
import { describe, expect, it } from "vitest";
import { ProblemError } from "../../src/http/problem.ts";
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

describe("compiling", () => {
  it("is limited per organization: past its budget a compile is refused with 429 and Retry-After, cached schemas keep working, other organizations compile", () => {
    // A tenant PATCHing fresh schemas in a loop compiled on every request and held every tenant's requests up to
    // 1.4 s at a time (sweep 19).
    const cached = large("kept");
    expect(payloadViolations(cached, { kept_0: "a" }, "org-a")).toEqual([]);
    let refused: unknown;
    // As many as it takes: one compile of this schema takes ~25 ms on Bun, ~200 ms on Node.
    for (let n = 0; n < 1_000 && refused === undefined; n++) {
      // Used all along, so it stays cached while the fresh ones push others out.
      expect(payloadViolations(cached, { kept_0: "a" }, "org-a")).toEqual([]);
      try {
        assertValidPayloadSchema(large(`fresh${n}`), "org-a");
      } catch (error) {
        refused = error;
      }
    }
    expect(refused).toBeInstanceOf(ProblemError);
    const problem = refused as ProblemError;
    expect(problem.status).toBe(429);
    expect(problem.slug).toBe("rate-limited");
    expect(Number(problem.extras.headers?.["Retry-After"])).toBeGreaterThanOrEqual(1);
    // What the cache holds needs no compiling: still validated for the same organization.
    expect(payloadViolations(cached, { kept_0: 1 }, "org-a")).toEqual([{ field: "payload.kept_0", message: "must be string" }]);
    expect(() => payloadViolations(large("uncached"), {}, "org-a")).toThrow(ProblemError);
    // Another organization's compiling is its own.
    expect(() => assertValidPayloadSchema(large("other"), "org-b")).not.toThrow();
  });

  it("is limited by the budget the instance sets (HOOKLEDGER_SCHEMA_COMPILE_MS), which the refusal names", () => {
    const budgets = { compileMs: 100, matchingMs: 100 };
    let refused: unknown;
    for (let n = 0; n < 1_000 && refused === undefined; n++) {
      try {
        assertValidPayloadSchema(large(`tight${n}`), "org-c", budgets);
      } catch (error) {
        refused = error;
      }
    }
    expect(refused).toBeInstanceOf(ProblemError);
    expect((refused as ProblemError).status).toBe(429);
    expect((refused as ProblemError).message).toMatch(/compiled for more than 100 ms in 10 s/);
  });
});
