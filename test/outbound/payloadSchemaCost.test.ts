/**
 * Schema shapes whose cost grew with payload × schema: collecting every error of `required` over many items (4,000
 * names × 4,000 items was 16 million errors, ~9 s and gigabytes, and bigger ones killed the process), and `enum`
 * comparing each value with every member (20,000 × 20,000 took seconds). Invalid payloads are answered with at
 * most 20 errors naming real fields, and the process keeps answering.
 */
import { describe, expect, it } from "vitest";
import { ROOMY_SCHEMA_BUDGETS, schemaWorld } from "./schemaWorld.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are parsed JSON */

// The work counted here is in steps, whatever the machine's speed; the time budgets are not what these tests are about.
const { world, createType, send, sendRaw } = schemaWorld("cost", ROOMY_SCHEMA_BUDGETS);

describe("errors of an invalid payload", () => {
  it("are bounded when every item misses thousands of required properties, and the process keeps answering", async () => {
    const names = Array.from({ length: 4000 }, (_, i) => `p${i}`);
    const type = await createType({ type: "array", items: { type: "object", required: names } });
    expect(type.status, JSON.stringify(type.body)).toBe(201);
    const started = Date.now();
    const answer = await send(type.body.name, Array.from({ length: 4000 }, () => ({})));
    const health = await world.app.fetch("/health");
    expect(answer.status).toBe(422);
    expect(answer.body.errors.length).toBeGreaterThanOrEqual(1);
    expect(answer.body.errors.length).toBeLessThanOrEqual(20);
    for (const error of answer.body.errors) {
      expect(error.field).toMatch(/^payload\.\d+$/);
      expect(names.map((name) => `must have required property '${name}'`)).toContain(error.message);
    }
    expect(health.status).toBe(200);
    // Not a timing test: collecting all 16 million errors took ~9 s; the answer now takes milliseconds.
    expect(Date.now() - started).toBeLessThan(5_000);
    // A conforming payload of the same size is still accepted.
    const full = Object.fromEntries(names.map((name) => [name, 0]));
    expect((await send(type.body.name, [full, full])).status).toBe(202);
  });

  it("stop being collected past 1,000, whichever keyword adds them, and the first error is the answer", async () => {
    // Ajv adds each error of our enum and multipleOf, and of a referenced schema, by copying every error collected
    // before it: 60,000 items failing {"enum":["a"]} (a 240 KB payload) held the event loop 4-6 s (sweep 21).
    const recursive = { $defs: { t: { type: ["string", "array"], items: { $ref: "#/$defs/t" } } } };
    const cases: [Record<string, unknown>, unknown, string][] = [
      [{ type: "array", items: { enum: ["a"] } }, Array.from({ length: 60_000 }, () => "b"), "must be equal to one of the allowed values"],
      [{ type: "array", items: { multipleOf: 0.01 } }, Array.from({ length: 60_000 }, () => 0.001), "must be multiple of 0.01"],
      [{ type: "array", items: { $ref: "#/$defs/t" }, ...recursive }, Array.from({ length: 20_000 }, () => 1), "must be string,array"],
    ];
    for (const [schema, payload, message] of cases) {
      const type = await createType(schema);
      expect(type.status, JSON.stringify(type.body)).toBe(201);
      const started = Date.now();
      const answer = await send(type.body.name, payload);
      expect(answer.status).toBe(422);
      expect(answer.body.errors, JSON.stringify(schema)).toEqual([{ field: "payload.0", message }]);
      // Not a timing test: collecting all of them took 2-6 s each; stopping at 1,000 takes milliseconds.
      expect(Date.now() - started).toBeLessThan(5_000);
      expect((await world.app.fetch("/health")).status).toBe(200);
      // Fewer errors are all collected, 20 of them in the answer.
      const fewer = await send(type.body.name, (payload as unknown[]).slice(0, 900));
      expect(fewer.body.errors).toHaveLength(20);
      expect(fewer.body.errors[19]).toEqual({ field: "payload.19", message });
    }
  });

  it("are all reported, up to 20, for ordinary payloads, as before", async () => {
    const type = await createType({ type: "array", items: { type: "object", required: ["a", "b", "c"], properties: { a: { type: "string" } } } });
    expect(type.status).toBe(201);
    const two = await send(type.body.name, [{ a: 1 }, {}]);
    expect(two.status).toBe(422);
    expect(two.body.errors).toEqual([
      { field: "payload.0", message: "must have required property 'b'" },
      { field: "payload.0", message: "must have required property 'c'" },
      { field: "payload.0.a", message: "must be string" },
      { field: "payload.1", message: "must have required property 'a'" },
      { field: "payload.1", message: "must have required property 'b'" },
      { field: "payload.1", message: "must have required property 'c'" },
    ]);
    const many = await send(type.body.name, Array.from({ length: 30 }, () => ({})));
    expect(many.status).toBe(422);
    expect(many.body.errors).toHaveLength(20);
    expect(many.body.errors.slice(0, 4)).toEqual([
      { field: "payload.0", message: "must have required property 'a'" },
      { field: "payload.0", message: "must have required property 'b'" },
      { field: "payload.0", message: "must have required property 'c'" },
      { field: "payload.1", message: "must have required property 'a'" },
    ]);
  });
});

describe("enum", () => {
  const notAllowed = (field: string) => ({ field, message: "must be equal to one of the allowed values" });

  it("matches the same JSON value: objects in any key order, numbers by value, arrays in order, strings never numbers", async () => {
    const type = await createType({
      type: "object",
      properties: { v: { enum: [{ a: 1, b: { c: [1, { d: null, e: "x" }] } }, 1, [[1, 2], [3]], "2", null, false, { "": [] }] } },
    });
    expect(type.status, JSON.stringify(type.body)).toBe(201);
    for (const v of [{ b: { c: [1, { e: "x", d: null }] }, a: 1 }, 1, [[1, 2], [3]], "2", null, false, { "": [] }]) {
      expect((await send(type.body.name, { v })).status, JSON.stringify(v)).toBe(202);
    }
    for (const v of [{ a: 1, b: { c: [{ d: null, e: "x" }, 1] } }, { a: 1 }, "1", 2, [[2, 1], [3]], [[1, 2, 3]], [[3], [1, 2]], 0, "", true, [], {}, { "": {} }, "null", { a: 1, b: { c: [1, { d: null, e: "x" }] }, f: 0 }]) {
      const answer = await send(type.body.name, { v });
      expect(answer.status, JSON.stringify(v)).toBe(422);
      expect(answer.body.errors).toEqual([notAllowed("payload.v")]);
    }
    // 1.0 is the number 1, as written in the request: inside a container too.
    expect((await sendRaw(type.body.name, '{"v":1.0}')).status).toBe(202);
    expect((await sendRaw(type.body.name, '{"v":[[1.0,2e0],[3.00]]}')).status).toBe(202);
    expect((await sendRaw(type.body.name, '{"v":{"b":{"c":[10e-1,{"e":"x","d":null}]},"a":1}}')).status).toBe(202);
    expect((await sendRaw(type.body.name, '{"v":"1.0"}')).status).toBe(422);
  });

  it("checks 20,000 items against 20,000 members in linear time", async () => {
    const members = Array.from({ length: 20_000 }, (_, i) => ({ n: i, s: `m${i}` }));
    const type = await createType({ type: "array", items: { enum: members } });
    expect(type.status, JSON.stringify(type.body).slice(0, 500)).toBe(201);
    // Keys in the other order: Ajv's deep equality compared each item with every member before its own.
    const items = members.map(({ n, s }) => ({ s, n })).reverse();
    const started = Date.now();
    expect((await send(type.body.name, items)).status).toBe(202);
    const refused = await send(type.body.name, [...items, { n: 1, s: "m2" }, { n: 3 }]);
    expect(refused.status).toBe(422);
    expect(refused.body.errors).toEqual([notAllowed("payload.20000"), notAllowed("payload.20001")]);
    // Not a timing test: only the comparison with every member (~8 s here) comes anywhere near this.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await world.app.fetch("/health")).status).toBe(200);
  });

  it("still refuses an empty enum as a schema that cannot be compiled", async () => {
    const type = await createType({ properties: { v: { enum: [] } } });
    expect(type.status).toBe(400);
    expect(type.body.errors).toEqual([{ field: "schema", message: "could not be compiled as JSON Schema draft 2020-12" }]);
  });
});

describe("work per validation", () => {
  /** d0 applies d1 twice to the same value, d1 applies d2 twice, …: 2^levels applications per value. */
  const fanningOut = (levels: number) => {
    const defs: Record<string, unknown> = {};
    for (let i = 0; i < levels; i++) defs[`d${i}`] = { allOf: [{ $ref: `#/$defs/d${i + 1}` }, { $ref: `#/$defs/d${i + 1}` }] };
    defs[`d${levels}`] = { type: "integer" };
    return { $defs: defs, $ref: "#/$defs/d0" };
  };
  /** Recursions chained one after another: a_i recurses into items and applies a_(i+1) to the same value. */
  const chained = (links: number) => {
    const defs: Record<string, unknown> = {};
    for (let i = 0; i < links; i++) defs[`a${i}`] = { items: { $ref: `#/$defs/a${i}` }, allOf: [{ $ref: `#/$defs/a${i + 1}` }] };
    defs[`a${links}`] = { type: ["array", "integer"] };
    return { $defs: defs, $ref: "#/$defs/a0" };
  };
  const nested = (depth: number) => {
    let value: unknown = 1;
    for (let i = 0; i < depth; i++) value = [value];
    return value;
  };

  it("refuses a payload whose validation would apply the schema's parts too many times, and keeps answering", async () => {
    for (const [schema, payload] of [[fanningOut(30), 1], [chained(8), nested(200)]] as const) {
      const type = await createType(schema);
      expect(type.status, JSON.stringify(type.body)).toBe(201);
      const answer = await send(type.body.name, payload);
      expect(answer.status).toBe(422);
      expect(answer.body.errors).toEqual([{ field: "payload", message: expect.stringContaining("takes more than 1000000 steps") }]);
      expect((await world.app.fetch("/health")).status).toBe(200);
    }
    // The same schemas with little to do are fine.
    const small = await createType(fanningOut(4));
    expect((await send(small.body.name, 7)).status).toBe(202);
    expect((await send(small.body.name, "seven")).status).toBe(422);
    const short = await createType(chained(3));
    expect((await send(short.body.name, nested(20))).status).toBe(202);
  });

  /** fanningOut with `leaf` at the bottom: 2^levels applications of it to the same value. */
  const fanningOutTo = (levels: number, leaf: Record<string, unknown>) => {
    const schema = fanningOut(levels);
    schema.$defs[`d${levels}`] = leaf;
    return schema;
  };

  it("charges checks that walk the value by its size: long strings, wide objects, large enum and const members", async () => {
    // Each was one unit per application: maxLength 4,096 times over 400,000 characters held the loop 2 s, and
    // maxProperties over 40,000 keys 12 s (sweep 19). Refused now after a bounded amount of walking.
    const wide = Object.fromEntries(Array.from({ length: 40_000 }, (_, i) => [`k${i}`, 0]));
    const big = { x: "y".repeat(200_000) };
    const cases: [Record<string, unknown>, unknown][] = [
      [fanningOutTo(12, { maxLength: 100_000_000 }), "s".repeat(400_000)],
      [fanningOutTo(12, { minLength: 1 }), "s".repeat(400_000)],
      [fanningOutTo(10, { maxProperties: 1_000_000 }), wide],
      [fanningOutTo(10, { additionalProperties: true, patternProperties: {} }), wide],
      [fanningOutTo(14, { not: { enum: [big] } }), { x: "y".repeat(199_999) + "z" }],
      [fanningOutTo(14, { not: { const: big } }), { x: "y".repeat(199_999) + "z" }],
    ];
    for (const [schema, payload] of cases) {
      const type = await createType(schema);
      expect(type.status, JSON.stringify(type.body).slice(0, 300)).toBe(201);
      const started = performance.now();
      const answer = await send(type.body.name, payload);
      expect(answer.status, JSON.stringify(schema.$defs)).toBe(422);
      expect(answer.body.errors).toEqual([{ field: "payload", message: expect.stringContaining("takes more than 1000000 steps") }]);
      // Not a timing test: these took 1-12 s each before; refused now after ~1,000,000 units' worth of walking.
      expect(performance.now() - started).toBeLessThan(5_000);
    }
    // The same checks applied a few times to the same values are fine.
    expect((await send((await createType(fanningOutTo(3, { maxLength: 500_000 }))).body.name, "s".repeat(400_000))).status).toBe(202);
    expect((await send((await createType(fanningOutTo(3, { maxProperties: 50_000 }))).body.name, wide)).status).toBe(202);
    expect((await send((await createType(fanningOutTo(3, { enum: [big] }))).body.name, big)).status).toBe(202);
  });

  it("charges the errors a failing enum, multipleOf or $ref copies, which add up under contains even in a valid payload", async () => {
    // contains tries each item and keeps the errors of those that miss until one matches; each miss of our enum or
    // multipleOf, or of a referenced schema, copies all the errors so far. 60,000 misses before the match held the
    // event loop 4.6-10 s (sweep 21); they are charged now, and past the budget the event is refused.
    const recursive = { $defs: { t: { type: ["string", "array"], items: { $ref: "#/$defs/t" } } } };
    const cases: [Record<string, unknown>, unknown, unknown][] = [
      [{ type: "array", contains: { enum: ["a"] } }, "b", "a"],
      [{ type: "array", contains: { multipleOf: 0.01 } }, 0.001, 1],
      [{ type: "array", contains: { $ref: "#/$defs/t" }, ...recursive }, 1, "s"],
    ];
    for (const [schema, miss, match] of cases) {
      const type = await createType(schema);
      expect(type.status, JSON.stringify(type.body)).toBe(201);
      const started = Date.now();
      const answer = await send(type.body.name, [...Array.from({ length: 30_000 }, () => miss), match]);
      expect(answer.status, JSON.stringify(schema)).toBe(422);
      expect(answer.body.errors).toEqual([{ field: "payload", message: expect.stringContaining("takes more than 1000000 steps") }]);
      // Not a timing test: these took seconds each; refused now after ~1,000,000 units' worth of copying.
      expect(Date.now() - started).toBeLessThan(5_000);
      expect((await send(type.body.name, [...Array.from({ length: 2_000 }, () => miss), match])).status).toBe(202);
    }
    // Errors Ajv adds itself cost no copy: a long search for a string is not charged for them.
    const strings = await createType({ type: "array", contains: { type: "string" } });
    expect((await send(strings.body.name, [...Array.from({ length: 60_000 }, () => 1), "s"])).status).toBe(202);
  });

  it("validates large ordinary payloads in full, unevaluatedProperties included", async () => {
    const ints = await createType({ type: "array", items: { type: "integer" } });
    expect((await send(ints.body.name, Array.from({ length: 100_000 }, (_, i) => i % 10))).status).toBe(202);
    const objects = await createType({
      type: "array",
      items: { type: "object", required: ["id"], properties: { id: { type: "string" }, n: { type: "integer" } }, unevaluatedProperties: false },
    });
    const rows = Array.from({ length: 10_000 }, (_, i) => ({ id: `r${i}`, n: i }));
    expect((await send(objects.body.name, rows)).status).toBe(202);
    const extra = await send(objects.body.name, [...rows.slice(0, 10), { id: "x", n: 1, sneaky: true }]);
    expect(extra.status).toBe(422);
    expect(extra.body.errors).toEqual([{ field: "payload.10", message: "must NOT have unevaluated properties" }]);
  });
});
