/**
 * Matching a payload's strings against a tenant's patterns and the formats cannot hold the event loop: a match whose
 * worst case is too large is not run, and a validation stops once its matches have taken 100 ms. The hostile
 * schemas here are the ones a sweep used: within every cap on the schema, each held Bun's event loop for seconds.
 */
import { describe, expect, it } from "vitest";
import { payloadViolations } from "../../src/outbound/payloadSchema.ts";
import { MAX_MATCH_WORK } from "../../src/outbound/validationWork.ts";
import { ROOMY_SCHEMA_BUDGETS, schemaWorld } from "./schemaWorld.ts";

const { world, createType, send } = schemaWorld("matching");

/** A fixed-seed string of `a` and `b` (no DFA can learn it: the NFA path of re2js). */
function randomAb(length: number, seed = 7): string {
  let state = seed;
  let text = "";
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    text += state % 2 === 0 ? "a" : "b";
  }
  return text;
}

/** The slowest answer of GET /health while `work` runs, polled every 20 ms. */
async function slowestHealthWhile<T>(work: Promise<T>): Promise<{ result: T; slowestMs: number }> {
  let done = false;
  let slowestMs = 0;
  const probe = (async () => {
    while (!done) {
      const started = performance.now();
      await world.app.fetch("/health");
      slowestMs = Math.max(slowestMs, performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const result = await work;
  done = true;
  await probe;
  return { result, slowestMs };
}

// `\w*a\w{998}!`: 1,004 RE2 instructions, under the 2,000 a pattern may have; its DFA needs a state per position.
const DFA_BREAKER = "\\w*a\\w{998}!";

describe("pattern matching", () => {
  it("refuses at once a string whose match could take seconds, naming the pattern and the cap, while /health answers", async () => {
    const type = await createType({ type: "object", properties: { s: { type: "string", pattern: DFA_BREAKER } } });
    expect(type.status).toBe(201);
    // 500,000 characters × 1,004 instructions: 5.5 s of the event loop before.
    const { result, slowestMs } = await slowestHealthWhile(send(type.body.name, { s: `${randomAb(500_000)}!` }));
    expect(result.status).toBe(422);
    expect(result.body.errors).toEqual([{ field: "payload", message: expect.stringMatching(/^a string of 500001 characters is too long to check against the pattern `\\w\*a\\w\{998\}!` \(1004 RE2 instructions\)/) }]);
    expect(slowestMs).toBeLessThan(1_000);
  });

  it("stops once matching has taken 100 ms, however the work is spread: many strings, or one pattern repeated in allOf", async () => {
    const spread = await createType({ type: "object", properties: { list: { type: "array", items: { type: "string", pattern: DFA_BREAKER } } } });
    // Each 1,500-character string is under the cap on its own (1.5 M of 6 M); 100 of them held the loop 2.9 s.
    const many = await slowestHealthWhile(send(spread.body.name, { list: Array.from({ length: 100 }, (_, n) => `${randomAb(1_500, n + 1)}!`) }));
    expect(many.result.status).toBe(422);
    expect(many.result.body.errors).toEqual([{ field: "payload", message: expect.stringContaining("takes more than 100 ms") }]);
    expect(many.slowestMs).toBeLessThan(1_000);

    // Twenty copies of one pattern counted once against the schema's pattern budget; each copy runs.
    const repeated = await createType({ type: "object", properties: { s: { allOf: Array.from({ length: 20 }, () => ({ type: "string", pattern: DFA_BREAKER })) } } });
    expect(repeated.status).toBe(201);
    const copies = await slowestHealthWhile(send(repeated.body.name, { s: `${randomAb(5_000)}!` }));
    expect(copies.result.status).toBe(422);
    expect(copies.result.body.errors[0].message).toMatch(/takes more than 100 ms/);
    expect(copies.slowestMs).toBeLessThan(1_000);
  });

  it("counts pattern keys of patternProperties the same way", () => {
    const schema = { type: "object", patternProperties: { [DFA_BREAKER]: { type: "string" } } };
    const violations = payloadViolations(schema, { [`${randomAb(10_000)}!`]: "x" });
    expect(violations).toEqual([{ field: "payload", message: expect.stringContaining("too long to check against the pattern") }]);
  });
});

describe("pattern matching of ordinary patterns", () => {
  // Their worst case is under the match cap, so they run; how long they take depends on the machine, and a loaded
  // one took more than the default 100 ms for this payload (422). The budget is out of the way here: the tests above
  // reach it with inputs far beyond it.
  const roomy = schemaWorld("matching_ordinary", ROOMY_SCHEMA_BUDGETS);

  it("still accepts large payloads that ordinary patterns check quickly", async () => {
    const type = await roomy.createType({ type: "object", properties: { blob: { type: "string", pattern: "^[A-Za-z0-9+/=]+$" }, ids: { type: "array", items: { pattern: "^ord_[0-9a-f]{8}$" } } } });
    const blob = Buffer.from(randomAb(360_000)).toString("base64"); // 480,000 characters
    const ids = Array.from({ length: 2_000 }, (_, n) => `ord_${n.toString(16).padStart(8, "0")}`);
    expect((await roomy.send(type.body.name, { blob, ids })).status).toBe(202);
    expect((await roomy.send(type.body.name, { blob: `${blob}!`, ids })).body.errors).toEqual([{ field: "payload.blob", message: 'must match pattern "^[A-Za-z0-9+/=]+$"' }]);
  });
});

describe("the instance's matching budget", () => {
  const strict = schemaWorld("matching_strict", { HOOKLEDGER_SCHEMA_MATCHING_MS: "10" });

  it("is HOOKLEDGER_SCHEMA_MATCHING_MS when set, and the refusal names it", async () => {
    const spread = await strict.createType({ type: "object", properties: { list: { type: "array", items: { type: "string", pattern: DFA_BREAKER } } } });
    const many = await strict.send(spread.body.name, { list: Array.from({ length: 100 }, (_, n) => `${randomAb(1_500, n + 1)}!`) });
    expect(many.status).toBe(422);
    expect(many.body.errors).toEqual([{ field: "payload", message: expect.stringContaining("takes more than 10 ms") }]);
  });
});

describe("format checks", () => {
  it("refuses a `regex` value whose construction could take seconds (quadratic in named groups), while /health answers", async () => {
    const type = await createType({ type: "object", properties: { r: { type: "string", format: "regex" } } });
    expect(type.status).toBe(201);
    // 8,000 named groups, 87 KB: 14.9 s of the event loop before.
    const groups = Array.from({ length: 8_000 }, (_, n) => `(?<g${n}>a)`).join("");
    const { result, slowestMs } = await slowestHealthWhile(send(type.body.name, { r: groups }));
    expect(result.status).toBe(422);
    expect(result.body.errors).toEqual([{ field: "payload", message: expect.stringContaining("too long to check against format regex") }]);
    expect(slowestMs).toBeLessThan(1_000);
    // An ordinary regex is still checked, both ways.
    expect((await send(type.body.name, { r: "^(?<year>\\d{4})-(?<month>\\d{2})$" })).status).toBe(202);
    expect((await send(type.body.name, { r: "(unclosed" })).body.errors).toEqual([{ field: "payload.r", message: 'must match format "regex"' }]);
  });

  it("lets every other format check strings as long as an event allows", () => {
    // The formats' own worst case stays under the cap for the largest payload string (512 KB).
    expect(524_288 * 8).toBeLessThan(MAX_MATCH_WORK);
    const schema = { type: "object", properties: { u: { format: "uri" }, e: { format: "email" } } };
    expect(payloadViolations(schema, { u: `https://example.com/${"a".repeat(500_000)}`, e: "a@example.com" })).toEqual([]);
  });
});
