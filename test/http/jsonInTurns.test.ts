/**
 * stringifyInTurns writes the text JSON.stringify writes, so answers built with it are byte for byte those of
 * `c.json`; and it lets other work run between the items of a large list (a page of 8 MB of bodies held the event
 * loop for its whole serialisation), never for a small one.
 */
import { describe, expect, it } from "vitest";
import { stringifyInTurns } from "../../src/http/jsonInTurns.ts";

const MB = 1024 * 1024;
const large = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `m${i}`, receipt: { body_base64: String.fromCharCode(65 + i).repeat(1.5 * MB) } }));

describe("stringifyInTurns", () => {
  it.each([
    ["an empty list", { data: [], next_cursor: null }],
    ["keys before and after the list, in their order", { first: 1, data: [{ a: 1 }, { b: [2, 3] }], next_cursor: "abc", last: { x: true } }],
    ["undefined members and items, as JSON.stringify leaves them out or writes null", { skipped: undefined, data: [{ a: undefined, b: 1 }, undefined], after: undefined }],
    ["strings JSON escapes", { data: ['quote " backslash \\ newline \n tab \t nul \u0000', "é 😀 \u2028 \ud800"], next_cursor: null }],
    ["values with toJSON", { data: [{ at: new Date("2026-12-05T12:00:00.000Z") }], at: new Date("2026-01-01T00:00:00.000Z") }],
    ["items large enough to let the loop go between them", { messages: large(3) }],
  ])("writes what JSON.stringify writes: %s", async (_label, reply) => {
    const listKey = "data" in reply ? "data" : "messages";
    expect(await stringifyInTurns(reply as { data: unknown[] }, listKey as "data")).toBe(JSON.stringify(reply));
  });

  it("lets work waiting for the event loop run between large items", async () => {
    let ran = false;
    setTimeout(() => {
      ran = true;
    }, 0);
    const text = await stringifyInTurns({ messages: large(2) }, "messages");
    expect(ran).toBe(true);
    expect(text.length).toBeGreaterThan(3 * MB);
  });

  it("does not for a list of small items, which costs no more than JSON.stringify", async () => {
    let ran = false;
    setTimeout(() => {
      ran = true;
    }, 0);
    await stringifyInTurns({ data: Array.from({ length: 250 }, (_, i) => ({ id: i, body_base64: "aGVsbG8=" })), next_cursor: null }, "data");
    expect(ran).toBe(false);
  });
});
