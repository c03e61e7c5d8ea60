/**
 * A recursion in a tenant's schema that can be entered by two paths for the same payload member doubles Ajv's work
 * with every level of nesting, on the event loop (`{"allOf":[{"items":{"$ref":"#"}},{"items":{"$ref":"#"}}]}` took
 * 1.9 s for a ~50-byte payload 24 arrays deep on Bun): such schemas are refused at create and PATCH, naming where
 * the two paths part, while recursion that reaches each member by one path (trees, binary trees, lists, `$defs`,
 * `prefixItems` at different positions) is accepted and validates deeply nested payloads.
 */
import { describe, expect, it } from "vitest";
import { schemaWorld } from "./schemaWorld.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are parsed JSON */

const { world, createType, patchType, send, expectSchemaRefused } = schemaWorld("recursion");

const DOUBLES = "validation time would double with every level of nesting";
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const twice = (a: string, b: string) => new RegExp(`^this recursion can be entered twice for the same payload value \\(via ${escapeRegExp(a)} and ${escapeRegExp(b)}\\); ${DOUBLES}`);

/** `depth` levels of `wrap` around `leaf`, and the payload field naming the leaf. */
function nest(depth: number, leaf: unknown, wrap: (inner: unknown) => unknown, step: string): { payload: unknown; field: string } {
  let payload = leaf;
  for (let i = 0; i < depth; i++) payload = wrap(payload);
  return { payload, field: ["payload", ...Array.from({ length: depth }, () => step)].join(".") };
}

describe("recursion that can be entered twice for the same member", () => {
  it("is refused at create and PATCH when two applicators step into the same elements", async () => {
    await expectSchemaRefused({ allOf: [{ items: { $ref: "#" } }, { items: { $ref: "#" } }] }, "schema", twice("#/allOf/0/items", "#/allOf/1/items"));
    await expectSchemaRefused({ type: "array", items: { $ref: "#" }, contains: { $ref: "#" } }, "schema", twice("#/contains", "#/items"));
    await expectSchemaRefused({ anyOf: [{ type: "array", items: { $ref: "#" } }, { items: { $ref: "#" }, minItems: 1 }] }, "schema", twice("#/anyOf/0/items", "#/anyOf/1/items"));
    // items after another schema's prefixItems still reaches element 0; next to its own prefixItems it would not.
    await expectSchemaRefused({ allOf: [{ prefixItems: [{ $ref: "#" }] }, { items: { $ref: "#" } }] }, "schema", twice("#/allOf/0/prefixItems/0", "#/allOf/1/items"));
  });

  it("is refused when properties, patternProperties and additionalProperties can step into the same key", async () => {
    await expectSchemaRefused({ type: "object", properties: { a: { $ref: "#" } }, patternProperties: { "^a": { $ref: "#" } } }, "schema", twice("#/patternProperties/^a", "#/properties/a"));
    await expectSchemaRefused({ properties: { a: { $ref: "#" } }, patternProperties: { "[0-9]": { $ref: "#" } } }, "schema", twice("#/patternProperties/[0-9]", "#/properties/a"));
    await expectSchemaRefused({ allOf: [{ properties: { a: { $ref: "#" } } }, { additionalProperties: { $ref: "#" } }] }, "schema", twice("#/allOf/0/properties/a", "#/allOf/1/additionalProperties"));
    await expectSchemaRefused({ allOf: [{ patternProperties: { "^x-": { $ref: "#" } } }, { additionalProperties: { $ref: "#" } }] }, "schema", twice("#/allOf/0/patternProperties/^x-", "#/allOf/1/additionalProperties"));
    await expectSchemaRefused({ if: { properties: { a: { $ref: "#" } } }, then: { properties: { a: { $ref: "#" } } } }, "schema", twice("#/if/properties/a", "#/then/properties/a"));
  });

  it("is refused when two references reach the same recursing schema, naming the subschema where the paths part", async () => {
    await expectSchemaRefused(
      { oneOf: [{ $ref: "#/$defs/node" }, { $ref: "#/$defs/node" }], $defs: { node: { type: "array", items: { $ref: "#" } } } },
      "schema",
      twice("#/oneOf/0 then #/$defs/node/items", "#/oneOf/1 then #/$defs/node/items"),
    );
    await expectSchemaRefused(
      { $ref: "#/$defs/n", $defs: { n: { type: "object", properties: { name: { type: "string" }, c: { allOf: [{ items: { $ref: "#/$defs/n" } }, { contains: { $ref: "#/$defs/n" } }] } } } } },
      "schema/$defs/n/properties/c",
      twice("#/$defs/n/properties/c/allOf/0/items", "#/$defs/n/properties/c/allOf/1/contains"),
    );
  });

  it("answers 422 naming the event type, not a stalled event loop, for such a schema stored before this rule", async () => {
    const type = await createType({ type: "array" });
    expect(type.status).toBe(201);
    await world.db.owner`update hookledger.event_types set schema = ${world.db.owner.json({ allOf: [{ items: { $ref: "#" } }, { items: { $ref: "#" } }] })} where name = ${type.body.name}`;
    const answer = await send(type.body.name, nest(60, [], (inner) => [inner], "0").payload);
    expect(answer.status).toBe(422);
    expect(answer.body.errors).toEqual([{ field: "event_type", message: expect.stringMatching(/^the event type's schema can no longer be used \(schema: this recursion can be entered twice/) }]);
  });
});

describe("recursion that reaches each member by one path", () => {
  const DEPTH = 100;

  async function expectDeepValidation(schema: unknown, valid: { payload: unknown }, invalid: { payload: unknown; field: string }, message: string) {
    const type = await createType(schema);
    expect(type.status, JSON.stringify(type.body)).toBe(201);
    expect((await send(type.body.name, valid.payload)).status).toBe(202);
    const answer = await send(type.body.name, invalid.payload);
    expect(answer.status).toBe(422);
    expect(answer.body.errors).toEqual(expect.arrayContaining([{ field: invalid.field, message }]));
    // And by PATCH too.
    expect((await patchType(type.body.name, schema)).status).toBe(200);
  }

  it("accepts a tree of children and validates 100 levels", async () => {
    const tree = { type: "object", required: ["name"], properties: { name: { type: "string" }, children: { type: "array", items: { $ref: "#" } } } };
    const wrap = (inner: unknown) => ({ name: "n", children: [inner] });
    const invalid = nest(DEPTH, { name: 5 }, wrap, "children.0");
    await expectDeepValidation(tree, nest(DEPTH, { name: "leaf" }, wrap, "children.0"), { ...invalid, field: `${invalid.field}.name` }, "must be string");
  });

  it("accepts a binary tree, whose left and right are different members", async () => {
    const binary = { type: "object", properties: { value: { type: "integer" }, left: { $ref: "#" }, right: { $ref: "#" } } };
    const wrapLeft = (inner: unknown) => ({ value: 1, left: inner, right: { value: 2, left: { value: 3 }, right: {} } });
    const invalid = nest(DEPTH, { value: "x" }, wrapLeft, "left");
    await expectDeepValidation(binary, nest(DEPTH, { value: 0 }, wrapLeft, "left"), { ...invalid, field: `${invalid.field}.value` }, "must be integer");
    const wrapRight = (inner: unknown) => ({ left: { value: 1 }, right: inner });
    const type = await createType(binary);
    expect((await send(type.body.name, nest(DEPTH, { value: 0 }, wrapRight, "right").payload)).status).toBe(202);
  });

  it("accepts a linked list through $defs and an $anchor", async () => {
    const list = { $ref: "#/$defs/node", $defs: { node: { $anchor: "node", type: "object", required: ["value"], properties: { value: { type: "integer" }, next: { $ref: "#node" } } } } };
    const wrap = (inner: unknown) => ({ value: 1, next: inner });
    const invalid = nest(DEPTH, { value: 1.5 }, wrap, "next");
    await expectDeepValidation(list, nest(DEPTH, { value: 2 }, wrap, "next"), { ...invalid, field: `${invalid.field}.value` }, "must be integer");
  });

  it("accepts prefixItems recursing at different positions, and items after its own prefixItems", async () => {
    const pairs = { type: "array", prefixItems: [{ $ref: "#" }, { $ref: "#" }], items: { type: "integer" } };
    const wrap = (inner: unknown) => [inner, [], 7];
    const invalid = nest(DEPTH, [[], [], "x"], wrap, "0");
    await expectDeepValidation(pairs, nest(DEPTH, [[], [], 8], wrap, "0"), { ...invalid, field: `${invalid.field}.2` }, "must be integer");
    const headAndTail = { type: "array", prefixItems: [{ type: "string" }], items: { $ref: "#" } };
    const wrapTail = (inner: unknown) => ["head", inner];
    const invalidTail = nest(DEPTH, [7], wrapTail, "1");
    await expectDeepValidation(headAndTail, nest(DEPTH, ["end"], wrapTail, "1"), { ...invalidTail, field: `${invalidTail.field}.0` }, "must be string");
  });

  it("accepts keys reached by one keyword: additionalProperties beside its own properties, disjoint anchored patterns, branches for objects or arrays", async () => {
    const keyed = {
      type: "object",
      properties: { meta: { type: "object", properties: { v: { type: "integer" } } } },
      patternProperties: { "^x-": { $ref: "#" }, "^y-": { $ref: "#" } },
      additionalProperties: { $ref: "#" },
      propertyNames: { $ref: "#/$defs/name" },
      $defs: { name: { maxLength: 20 } },
    };
    const wrap = (inner: unknown) => ({ meta: { v: 1 }, "x-a": {}, child: inner });
    const invalid = nest(DEPTH, { meta: { v: "one" } }, wrap, "child");
    await expectDeepValidation(keyed, nest(DEPTH, { "y-b": {} }, wrap, "child"), { ...invalid, field: `${invalid.field}.meta.v` }, "must be integer");

    // Any JSON but null: the object branch and the array branch step into different kinds of member.
    const json = { if: { type: "object" }, then: { additionalProperties: { $ref: "#" } }, else: { if: { type: "array" }, then: { items: { $ref: "#" } }, else: { type: ["string", "number", "boolean"] } } };
    const alternate = (inner: unknown) => ({ list: [1, "two", inner] });
    const invalidJson = nest(DEPTH / 2, null, alternate, "list.2");
    await expectDeepValidation(json, nest(DEPTH / 2, { end: true }, alternate, "list.2"), invalidJson, "must be string,number,boolean");
    const anyJson = { anyOf: [{ type: "object", additionalProperties: { $ref: "#" } }, { type: "array", items: { $ref: "#" } }, { type: ["string", "number", "boolean", "null"] }] };
    expect((await createType(anyJson)).status).toBe(201);
  });
});
