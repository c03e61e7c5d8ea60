/**
 * A tenant's JSON Schema cannot stall or crash the service: patterns, formats and uniqueItems run in linear time,
 * patterns RE2 cannot run and references that loop without moving into the payload are refused at create and PATCH
 * with the JSON pointer of the culprit, and schemas that worked before keep working.
 */
import { describe, expect, it, vi } from "vitest";
import { ROOMY_SCHEMA_BUDGETS, schemaWorld } from "./schemaWorld.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are parsed JSON */

// Nothing here is about the time budgets (compileBudget.ts and schemaCache.test.ts, matchingWork.test.ts are).
const { world, createType, patchType, send, sendRaw, expectSchemaRefused } = schemaWorld("schema", ROOMY_SCHEMA_BUDGETS);

describe("patterns", () => {
  it("evaluate catastrophic patterns in linear time while other requests are answered", async () => {
    const type = await createType({ type: "object", properties: { name: { type: "string", pattern: "^(a+)+$" } } });
    expect(type.status).toBe(201);
    // 30 characters took ~5 s per event on V8's backtracking engine, and ~4 times longer per 2 more.
    const hostile = `${"a".repeat(30)}!`;
    const started = Date.now();
    const health = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const response = await world.app.fetch("/health");
      return { status: response.status, at: Date.now() - started };
    })();
    const answers = await Promise.all(Array.from({ length: 50 }, () => send(type.body.name, { name: hostile })));
    const long = await send(type.body.name, { name: `${"a".repeat(200_000)}!` });
    const elapsed = Date.now() - started;
    for (const answer of [...answers, long]) {
      expect(answer.status).toBe(422);
      expect(answer.body.errors).toEqual([{ field: "payload.name", message: 'must match pattern "^(a+)+$"' }]);
    }
    expect((await health).status).toBe(200);
    expect(elapsed).toBeLessThan(10_000);
    expect((await send(type.body.name, { name: "a".repeat(200_000) })).status).toBe(202);
  });

  it("refuses at create and PATCH the patterns RE2 cannot run, naming the schema's JSON pointer and why", async () => {
    await expectSchemaRefused({ properties: { code: { type: "string", pattern: "(a)\\1" } } }, "schema/properties/code/pattern", /backreference/);
    await expectSchemaRefused({ $defs: { n: { pattern: "(?<n>a)\\k<n>" } } }, "schema/$defs/n/pattern", /backreference/);
    await expectSchemaRefused({ patternProperties: { "^(?=x)": {} } }, "schema/patternProperties/^(?=x)", /lookahead or lookbehind/);
    await expectSchemaRefused({ patternProperties: { "a/b(?<!c)": {} } }, "schema/patternProperties/a~1b(?<!c)", /lookahead or lookbehind/);
    await expectSchemaRefused({ items: { pattern: "[" } }, "schema/items/pattern", /not a valid ECMAScript regular expression/);
    await expectSchemaRefused({ pattern: "(.*a){1000}" }, "schema/pattern", /expands to more than 2000 RE2 instructions/);
    await expectSchemaRefused({ pattern: "x".repeat(1001) }, "schema/pattern", /longer than 1000 characters/);
    // \w{n} compiles to n + 2 instructions: the 22nd of these passes 20,000 in all.
    await expectSchemaRefused({ allOf: Array.from({ length: 25 }, (_, i) => ({ pattern: `\\w{${900 + i}}` })) }, "schema/allOf/21/pattern", /together expand to more than 20000/);
    await expectSchemaRefused({ pattern: "a{1001}" }, "schema/pattern", /repeats more than RE2 allows/);
  });
});

describe("references", () => {
  it("refuses self-reference and loops that never move into the payload, at create and PATCH", async () => {
    await expectSchemaRefused({ $ref: "#" }, "schema/$ref", /leads back to the root schema without moving into the payload/);
    await expectSchemaRefused({ $defs: { a: { $ref: "#/$defs/b" }, b: { $ref: "#/$defs/a" } }, $ref: "#/$defs/a" }, "schema/$defs/b/$ref", /leads back to #\/\$defs\/a/);
    await expectSchemaRefused({ allOf: [{ $ref: "#" }] }, "schema/allOf/0/$ref", /leads back to the root schema/);
    await expectSchemaRefused({ type: "object", $defs: { unused: { not: { $ref: "#/$defs/unused" } } } }, "schema/$defs/unused/not/$ref", /leads back to #\/\$defs\/unused/);
    await expectSchemaRefused({ anyOf: [{ type: "string" }, { $ref: "#/$defs/x" }], $defs: { x: { if: { type: "object" }, then: { $ref: "#" } } } }, "schema/$defs/x/then/$ref", /leads back/);
    await expectSchemaRefused({ $id: "https://example.com/a", $defs: { b: { $anchor: "b", dependentSchemas: { k: { $ref: "#b" } } } }, $ref: "#b" }, "schema/$defs/b/dependentSchemas/k/$ref", /leads back/);
  });

  it("refuses references that leave the schema, and invalid or foreign schemas, in its own words", async () => {
    await expectSchemaRefused({ $ref: "#/$defs/missing" }, "schema/$ref", /refers to "#\/\$defs\/missing", which is not in this schema/);
    await expectSchemaRefused({ properties: { a: { $ref: "https://json-schema.org/draft/2020-12/schema" } } }, "schema/properties/a/$ref", /not in this schema/);
    await expectSchemaRefused({ type: "strung" }, "schema/type", /is not valid JSON Schema \(draft 2020-12\): must be one of array, boolean, integer, null, number, object, string/);
    await expectSchemaRefused({ $schema: "http://json-schema.org/draft-07/schema#" }, "schema/$schema", /only JSON Schema draft 2020-12 is supported/);
    // Ajv compiles every subschema and keyword into code on the event loop: 1,000 subschemas and 2,000 keywords at most.
    const properties = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`p${i}`, { type: "string" }]));
    await expectSchemaRefused({ properties }, "schema", /^has more than 1000 subschemas; split the event type or simplify its schema$/);
    expect((await createType({ properties: Object.fromEntries(Object.entries(properties).slice(0, 999)) })).status).toBe(201);
    const wordy = Object.fromEntries(Array.from({ length: 700 }, (_, i) => [`w${i}`, { type: "string", minLength: 1, maxLength: 9 }]));
    await expectSchemaRefused({ properties: wordy }, "schema", /^has 2101 validation keywords, more than 2000; split the event type or simplify its schema$/);
    // Each name a dependentRequired lists is a check of its own; one entry may list at most 100.
    const dependent = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`d${i}`, Array.from({ length: 100 }, (_, j) => `x${j}`)]));
    await expectSchemaRefused({ type: "object", dependentRequired: dependent }, "schema", /^has 2502 validation keywords, more than 2000;/);
    await expectSchemaRefused({ type: "object", dependentRequired: { "a/b": Array.from({ length: 101 }, (_, j) => `x${j}`) } }, "schema/dependentRequired/a~1b", /^lists more than 100 properties$/);
    // unevaluatedProperties makes Ajv track every keyword: they count four times over.
    const tracked = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`u${i}`, { type: "string" }]));
    await expectSchemaRefused({ properties: tracked, unevaluatedProperties: false }, "schema", /^has 2008 validation keywords \(counted 4 times over beside unevaluatedProperties or unevaluatedItems\), more than 2000;/);
    expect((await createType({ properties: Object.fromEntries(Object.entries(tracked).slice(0, 490)), unevaluatedProperties: false })).status).toBe(201);
    // Annotations make no code, and do not count.
    const annotated = Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`a${i}`, { type: "string", maxLength: 9, title: "t", description: "d", examples: ["x"] }]));
    const large = await createType({ properties: annotated });
    expect(large.status).toBe(201);
    // Over 1,000 keywords a schema is compiled once: an invalid payload gets its first error, not all of them.
    const refused = await send(large.body.name, { a0: 1, a1: 2 });
    expect(refused.status).toBe(422);
    expect(refused.body.errors).toEqual([{ field: "payload.a0", message: "must be string" }]);
    const small = await createType({ properties: { a0: { type: "string" }, a1: { type: "string" } } });
    expect((await send(small.body.name, { a0: 1, a1: 2 })).body.errors).toHaveLength(2);
  });

  it("refuses a format it does not check, without writing the tenant's text to the service's log", async () => {
    const warnings = vi.spyOn(console, "warn");
    try {
      await expectSchemaRefused({ type: "object", properties: { mail: { type: "string", format: "emial" } } }, "schema/properties/mail/format", /^is not a format hookledger checks; use one of date, time, date-time,/);
      const forged = 'x"\n{"level":"error","msg":"forged"}\n';
      await expectSchemaRefused({ type: "string", format: forged }, "schema/format", /is not a format hookledger checks/);
      await expectSchemaRefused({ $defs: { unused: { format: "iri" } } }, "schema/$defs/unused/format", /is not a format hookledger checks/);
      expect(warnings).not.toHaveBeenCalled();
    } finally {
      warnings.mockRestore();
    }
  });

  it("accepts recursion that moves into the payload, and validates with it", async () => {
    const tree = await createType({ type: "object", required: ["name"], properties: { name: { type: "string" }, children: { type: "array", items: { $ref: "#" } } } });
    expect(tree.status).toBe(201);
    expect((await send(tree.body.name, { name: "root", children: [{ name: "a", children: [{ name: "b" }] }] })).status).toBe(202);
    const missing = await send(tree.body.name, { name: "root", children: [{ children: [] }] });
    expect(missing.status).toBe(422);
    expect(missing.body.errors).toEqual([{ field: "payload.children.0", message: "must have required property 'name'" }]);

    const linked = await createType({ $id: "https://example.com/list", $ref: "#node", $defs: { node: { $anchor: "node", type: "object", properties: { next: { $ref: "#node" }, value: { type: "integer" } } } } });
    expect(linked.status).toBe(201);
    expect((await send(linked.body.name, { value: 1, next: { value: 2, next: { value: 3 } } })).status).toBe(202);
    expect((await send(linked.body.name, { value: 1, next: { value: "two" } })).body.errors).toEqual([{ field: "payload.next.value", message: "must be integer" }]);
  });

  it("answers 422 naming the event type, not 500, for a schema stored before these rules", async () => {
    const type = await createType({ type: "object" });
    await world.db.owner`update hookledger.event_types set schema = ${world.db.owner.json({ $ref: "#" })} where name = ${type.body.name}`;
    const answer = await send(type.body.name, { any: "thing" });
    expect(answer.status).toBe(422);
    expect(answer.body.errors).toEqual([{ field: "event_type", message: expect.stringMatching(/^the event type's schema can no longer be used \(schema\/\$ref: leads back to the root schema/) }]);
  });
});

describe("schemas stored before the compile budget and the format rule", () => {
  it("keep validating, while the same schema given again is refused", async () => {
    const properties = Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`p${i}`, { type: "string" }]));
    const stored = { type: "object", properties: { ...properties, site: { type: "string", format: "iri" } } };
    const type = await createType({ type: "object" });
    await world.db.owner`update hookledger.event_types set schema = ${world.db.owner.json(stored)} where name = ${type.body.name}`;
    expect((await send(type.body.name, { p0: "a", site: "not an iri" })).status).toBe(202);
    const refused = await send(type.body.name, { p0: 1 });
    expect(refused.status).toBe(422);
    expect(refused.body.errors).toEqual([{ field: "payload.p0", message: "must be string" }]);
    await expectSchemaRefused(stored, "schema", /^has more than 1000 subschemas;/);
    expect((await send(type.body.name, { p1: "still" })).status).toBe(202);
  });
});

describe("schemas that worked before", () => {
  it("keep validating the same way: types, formats, enums, patterns with escapes and named groups", async () => {
    const schema = {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      required: ["id", "email", "at", "currency"],
      additionalProperties: false,
      properties: {
        id: { type: "string", format: "uuid" },
        email: { type: "string", format: "email" },
        at: { type: "string", format: "date-time" },
        site: { type: "string", format: "uri" },
        currency: { enum: ["EUR", "USD"] },
        code: { type: "string", pattern: "^(?<year>\\d{4})-\\u00e9t\\u00e9$" },
        amount: { type: "number", minimum: 0 },
        tags: { type: "array", items: { type: "string", minLength: 1 }, maxItems: 3 },
      },
      patternProperties: { "^x-": { type: "string" } },
    };
    const type = await createType(schema);
    expect(type.status, JSON.stringify(type.body)).toBe(201);
    const good = { id: "8d1b6c4e-4f6a-4b8e-9c1d-2e3f4a5b6c7d", email: "a@example.com", at: "2026-01-31T12:00:00Z", site: "https://example.com/a?b=c#d", currency: "EUR", code: "2026-été", amount: 5, tags: ["x"] };
    expect((await send(type.body.name, good)).status).toBe(202);
    const bad = await send(type.body.name, { ...good, id: "nope", email: "nope", at: "yesterday", site: "no scheme", currency: "GBP", code: "2026-ete", amount: -1, tags: [""], extra: 1 });
    expect(bad.status).toBe(422);
    expect(bad.body.errors).toEqual(
      expect.arrayContaining([
        { field: "payload", message: "must NOT have additional properties" },
        { field: "payload.id", message: 'must match format "uuid"' },
        { field: "payload.email", message: 'must match format "email"' },
        { field: "payload.at", message: 'must match format "date-time"' },
        { field: "payload.site", message: 'must match format "uri"' },
        { field: "payload.currency", message: "must be equal to one of the allowed values" },
        { field: "payload.code", message: 'must match pattern "^(?<year>\\d{4})-\\u00e9t\\u00e9$"' },
        { field: "payload.amount", message: "must be >= 0" },
        { field: "payload.tags.0", message: "must NOT have fewer than 1 characters" },
      ]),
    );
  });

  it("evaluate formats on long hostile strings in linear time", async () => {
    const type = await createType({ type: "object", properties: { a: { format: "uri" }, b: { format: "url" }, c: { format: "uri-template" }, d: { format: "uri-reference" } } });
    expect(type.status).toBe(201);
    // Measured with ajv-formats' own regexes: uri 4.3 s for 64 KiB on Bun; url is quadratic on V8 and Bun alike.
    const started = Date.now();
    const answer = await send(type.body.name, { a: `http://${"1:".repeat(32_000)} `, b: `http://${"a:".repeat(150_000)}`, c: `${"a.".repeat(20_000)}}`, d: `${"{a".repeat(20_000)}` });
    expect(answer.status).toBe(422);
    expect(answer.body.errors.map((error: { field: string }) => error.field).sort()).toEqual(["payload.a", "payload.b", "payload.c", "payload.d"]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe("members a payload has", () => {
  it("are its own: names on Object.prototype count only when the payload has them", async () => {
    // Inherited members counted (sweep 19): `{}` met required ["constructor", "toString"], and an optional
    // `toString` property refused every payload that left it out.
    const required = await createType({ type: "object", required: ["constructor", "toString"] });
    expect((await send(required.body.name, {})).status).toBe(422);
    expect((await sendRaw(required.body.name, '{"constructor":1,"toString":2}')).status).toBe(202);
    const optional = await createType({ type: "object", properties: { toString: { type: "string" }, valueOf: { type: "integer" } } });
    expect((await send(optional.body.name, { amount: 1 })).status).toBe(202);
    const wrong = await send(optional.body.name, { toString: 5 });
    expect(wrong.status).toBe(422);
    expect(wrong.body.errors).toEqual([{ field: "payload.toString", message: "must be string" }]);
    const ownOnly = await createType({ type: "object", required: ["__proto__"] });
    expect((await send(ownOnly.body.name, {})).status).toBe(422);
    expect((await sendRaw(ownOnly.body.name, '{"__proto__":1}')).status).toBe(202);
  });

  it("cannot be checked under the name __proto__: such a schema is refused, not half applied", async () => {
    for (const keyword of ["properties", "dependentSchemas", "dependentRequired"]) {
      const schema = JSON.parse(`{"type":"object","${keyword}":{"__proto__":${keyword === "dependentRequired" ? '["a"]' : '{"type":"string"}'}}}`);
      await expectSchemaRefused(schema, `schema/${keyword}/__proto__`, /^a property named __proto__ cannot be checked; leave it out of the schema$/);
    }
  });
});

describe("multipleOf", () => {
  it("holds for decimal multiples that binary floating point cannot divide exactly", async () => {
    const type = await createType({ type: "object", properties: { amount: { multipleOf: 0.01 }, step: { multipleOf: 0.1 } } });
    for (const payload of [{ amount: 19.99, step: 0.3 }, { amount: 0.07, step: 0.7 }, { amount: 1234567.89, step: 2.2 }]) {
      expect((await send(type.body.name, payload)).status, JSON.stringify(payload)).toBe(202);
    }
    const off = await send(type.body.name, { amount: 0.015, step: 0.35 });
    expect(off.status).toBe(422);
    expect(off.body.errors).toHaveLength(2);
    expect(off.body.errors).toEqual(
      expect.arrayContaining([
        { field: "payload.amount", message: "must be multiple of 0.01" },
        { field: "payload.step", message: "must be multiple of 0.1" },
      ]),
    );
  });
});

describe("uniqueItems", () => {
  const duplicateError = (field: string, j: number, i: number) => ({ field, message: `must NOT have duplicate items (items ## ${j} and ${i} are identical)` });

  it("finds items that are the same JSON value, whatever their type, key order or spelling, naming the field", async () => {
    const type = await createType({ type: "object", properties: { list: { type: "array", uniqueItems: true } } });
    expect(type.status).toBe(201);
    const duplicates: [unknown[], number, number][] = [
      [["a", 1, true, 1], 1, 3],
      [[{ a: 1, b: { c: [1, 2], d: null } }, { b: { d: null, c: [1, 2] }, a: 1 }], 0, 1],
      [[[1, [2, [3]]], [0], [1, [2, [3]]]], 0, 2],
      [[{ k: [{ x: 1, y: 2 }] }, { k: [{ y: 2, x: 1 }] }], 0, 1],
    ];
    for (const [list, j, i] of duplicates) {
      const answer = await send(type.body.name, { list });
      expect(answer.status, JSON.stringify(list)).toBe(422);
      expect(answer.body.errors).toEqual([duplicateError("payload.list", j, i)]);
    }
    for (const list of [[1, "1"], [{ a: 1 }, { a: "1" }], [[1, 2], [2, 1]], [null, 0, false, ""], [[], {}, [[]], [{}], "[]", "{}"], [{ a: null }, { b: null }, { a: [] }]]) {
      expect((await send(type.body.name, { list })).status, JSON.stringify(list)).toBe(202);
    }
    // 1 and 1.0 are the same number: sent as written, not through JSON.stringify, which would spell both 1.
    const response = await sendRaw(type.body.name, '{"list":[1.0,2,1]}');
    expect(response.status).toBe(422);
    expect(response.body.errors).toEqual([duplicateError("payload.list", 0, 2)]);
  });

  it("applies in every subschema: prefixItems, items, $defs through $ref, recursion; uniqueItems false allows repeats", async () => {
    const type = await createType({
      type: "object",
      properties: {
        rows: { type: "array", prefixItems: [{ $ref: "#/$defs/unique" }], items: { type: "array", uniqueItems: false } },
        tree: { $ref: "#/$defs/node" },
      },
      $defs: { unique: { type: "array", uniqueItems: true }, node: { type: "array", uniqueItems: true, items: { $ref: "#/$defs/node" } } },
    });
    expect(type.status, JSON.stringify(type.body)).toBe(201);
    expect((await send(type.body.name, { rows: [[1, 2], [3, 3], [3, 3]], tree: [[], [[], [[]]], [[[]], []]] })).status).toBe(202);
    const answer = await send(type.body.name, { rows: [[{ a: 1 }, { a: 1 }], [3, 3]], tree: [[], [[[]], [[]]]] });
    expect(answer.status).toBe(422);
    expect(answer.body.errors).toEqual(expect.arrayContaining([duplicateError("payload.rows.0", 0, 1), duplicateError("payload.tree.1", 0, 1)]));
    expect(answer.body.errors).toHaveLength(2);
  });

  it("checks 40,000 distinct arrays in linear time (Ajv's pairwise check took ~30 s and stalled every request)", async () => {
    const type = await createType({ type: "array", uniqueItems: true });
    expect(type.status).toBe(201);
    const distinct = Array.from({ length: 40_000 }, (_, i) => [i]);
    const started = Date.now();
    expect((await send(type.body.name, distinct)).status).toBe(202);
    const repeated = await send(type.body.name, [...distinct, [17]]);
    expect(repeated.status).toBe(422);
    expect(repeated.body.errors).toEqual([duplicateError("payload", 17, 40_000)]);
    // Not a timing test: only the quadratic check comes anywhere near this.
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
