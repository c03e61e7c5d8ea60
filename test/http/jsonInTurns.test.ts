/**
 * jsonPiecesInTurns writes the text JSON.stringify writes, so answers built from it are byte for byte those of
 * `c.json`; and it lets other work run between the pieces of a large list (a page of 8 MB of bodies held the event
 * loop for its whole serialisation), never for a small one, which stays one piece.
 */
import { describe, expect, it } from "vitest";
import { jsonPiecesInTurns } from "../../src/http/jsonInTurns.ts";

const MB = 1024 * 1024;
const large = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `m${i}`, receipt: { body_base64: String.fromCharCode(65 + i).repeat(1.5 * MB) } }));

async function pieces(reply: object, listKey: string): Promise<string[]> {
  const all: string[] = [];
  for await (const piece of jsonPiecesInTurns(reply as Record<string, unknown[]>, listKey)) all.push(piece);
  return all;
}

describe("jsonPiecesInTurns", () => {
  it.each([
    ["an empty list", { data: [], next_cursor: null }],
    ["keys before and after the list, in their order", { first: 1, data: [{ a: 1 }, { b: [2, 3] }], next_cursor: "abc", last: { x: true } }],
    ["undefined members and items, as JSON.stringify leaves them out or writes null", { skipped: undefined, data: [{ a: undefined, b: 1 }, undefined], after: undefined }],
    ["strings JSON escapes", { data: ['quote " backslash \\ newline \n tab \t nul \u0000', "é 😀 \u2028 \ud800"], next_cursor: null }],
    ["values with toJSON", { data: [{ at: new Date("2026-12-05T12:00:00.000Z") }], at: new Date("2026-01-01T00:00:00.000Z") }],
    ["items large enough to let the loop go between them", { messages: large(3), next_cursor: null }],
  ])("writes what JSON.stringify writes: %s", async (_label, reply) => {
    expect((await pieces(reply, "data" in reply ? "data" : "messages")).join("")).toBe(JSON.stringify(reply));
  });

  it("lets work waiting for the event loop run between the pieces of a large list", async () => {
    let ran = false;
    setTimeout(() => {
      ran = true;
    }, 0);
    const iterator = jsonPiecesInTurns({ messages: large(2) }, "messages");
    const first = await iterator.next();
    expect(ran).toBe(false);
    const second = await iterator.next();
    expect(ran).toBe(true);
    expect([first.value.length, second.value.length]).toEqual([JSON.stringify(large(1)[0]).length + '{"messages":['.length, JSON.stringify(large(2)[1]).length + 3]);
    expect((await iterator.next()).done).toBe(true);
  });

  it("writes a list of small items as one piece, in one turn", async () => {
    let ran = false;
    setTimeout(() => {
      ran = true;
    }, 0);
    const reply = { data: Array.from({ length: 250 }, (_, i) => ({ id: i, body_base64: "aGVsbG8=" })), next_cursor: null };
    expect(await pieces(reply, "data")).toEqual([JSON.stringify(reply)]);
    expect(ran).toBe(false);
  });
});
