/**
 * JSON answers that carry large strings — pulled messages and receipts hold their bodies as base64, up to 8 MB of
 * bodies a page (10 MB for one message alone) — serialised without holding the event loop for the whole answer.
 *
 * Why: `c.json` serialises the answer in one call. Under Bun, on the shared 2-core machine, a page of eight 1 MB
 * bodies (10.7 MB of JSON) spent ~30-50 ms in that one call, the longest stretch in which the process answered
 * nothing else (no other tenant's webhook, no `/health`). Here each item of the list is serialised on its own, and
 * the event loop is let go whenever about a megabyte of text has been written since it last was: a page of small
 * items costs no more than before, a page of large ones holds the loop a few milliseconds at a time.
 *
 * The text is the one `JSON.stringify` writes for the same object (same keys in the same order, same escaping),
 * so the answer is byte for byte the one `c.json` would send, `Content-Type: application/json` and all.
 */
import type { Context } from "hono";

/** Text serialised between two turns of the event loop: about 3-5 ms of `JSON.stringify` under load. */
const TEXT_PER_TURN = 1024 * 1024;

const letOthersRun = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * The JSON text of `reply`, as `JSON.stringify(reply)` writes it, with the array under `listKey` serialised one
 * item at a time, letting other work run between items once TEXT_PER_TURN of text has been written.
 *
 * @example
 * const text = await stringifyInTurns({ data: [{ body_base64: "…" }], next_cursor: null }, "data");
 * text === JSON.stringify({ data: [{ body_base64: "…" }], next_cursor: null }); // true
 */
export async function stringifyInTurns<T extends object, K extends keyof T & string>(reply: T & Record<K, readonly unknown[]>, listKey: K): Promise<string> {
  const parts: string[] = [];
  let sinceTurn = 0;
  for (const [key, value] of Object.entries(reply)) {
    if (value === undefined) continue;
    parts.push(parts.length === 0 ? "{" : ",", JSON.stringify(key), ":");
    if (key !== listKey) {
      parts.push(JSON.stringify(value));
      continue;
    }
    parts.push("[");
    for (const [i, item] of (value as readonly unknown[]).entries()) {
      if (sinceTurn >= TEXT_PER_TURN) {
        await letOthersRun();
        sinceTurn = 0;
      }
      // As JSON.stringify writes an array element that has no JSON form (undefined, a function).
      const text = JSON.stringify(item) ?? "null";
      parts.push(i === 0 ? text : `,${text}`);
      sinceTurn += text.length;
    }
    parts.push("]");
  }
  parts.push(parts.length === 0 ? "{}" : "}");
  return parts.join("");
}

/**
 * Answers `reply` as `c.json(reply)` would, serialised by stringifyInTurns.
 *
 * @example
 * return jsonInTurns(c, { messages: messages.map(presentLeasedMessage) }, "messages");
 */
export async function jsonInTurns<T extends object, K extends keyof T & string>(c: Context, reply: T & Record<K, readonly unknown[]>, listKey: K): Promise<Response> {
  return c.body(await stringifyInTurns(reply, listKey), 200, { "Content-Type": "application/json" });
}
