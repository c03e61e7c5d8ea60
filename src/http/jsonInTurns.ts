/**
 * JSON answers that carry large strings — pulled messages and receipts hold their bodies as base64, up to 8 MB of
 * bodies a page (10 MB for one message alone) — built without holding the event loop for the whole answer.
 *
 * Why: `c.json` serialises the answer in one call and Bun then encodes that one string, and every large step on a
 * 10.7 MB answer (a page of eight 1 MB bodies) is a stretch of tens of milliseconds in which the process answers
 * nothing else, no other tenant's webhook and no `/health`: under Bun on the shared 2-core machine, `JSON.stringify`
 * ~30-50 ms, joining the parts of the text into one string ~40 ms, encoding it ~25 ms. Here the list is serialised
 * an item at a time, and each megabyte or so of text is encoded to UTF-8 as soon as it is written, then the event
 * loop is let go; the answer is sent from those pieces, never made one string. A page of small items is one piece
 * and one string, as before.
 *
 * The text is the one `JSON.stringify` writes for the same object (same keys in the same order, same escaping), so
 * the body is byte for byte the one `c.json` would send, with `Content-Type: application/json`. Only the framing of
 * an answer sent in pieces differs under Bun: Bun.serve sends a streamed body chunked whatever `Content-Length` says
 * (Node's server keeps the length). Keeping the length under Bun would take one Blob of the pieces, a copy of the
 * whole answer in one go (~35 ms for 10.7 MB here), the stretch this module exists to avoid.
 */
import type { Context } from "hono";

/** Text serialised and encoded between two turns of the event loop: a few milliseconds of work. */
const TEXT_PER_TURN = 1024 * 1024;

const letOthersRun = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * The JSON text of `reply`, as `JSON.stringify(reply)` writes it, in pieces of about TEXT_PER_TURN or more (one
 * item never splits): the array under `listKey` is serialised an item at a time, and other work runs between two
 * pieces (the consumer's work on a piece too, before the next is written).
 *
 * @example
 * const pieces: string[] = [];
 * for await (const piece of jsonPiecesInTurns({ data: [{ body_base64: "…" }], next_cursor: null }, "data")) pieces.push(piece);
 * pieces.join("") === JSON.stringify({ data: [{ body_base64: "…" }], next_cursor: null }); // true
 */
export async function* jsonPiecesInTurns<T extends object, K extends keyof T & string>(reply: T & Record<K, readonly unknown[]>, listKey: K): AsyncGenerator<string> {
  let pending: string[] = [];
  let pendingLength = 0;
  let members = 0;
  const write = (text: string) => {
    pending.push(text);
    pendingLength += text.length;
  };
  for (const [key, value] of Object.entries(reply)) {
    if (value === undefined) continue;
    write(`${members++ === 0 ? "{" : ","}${JSON.stringify(key)}:`);
    if (key !== listKey) {
      write(JSON.stringify(value));
      continue;
    }
    write("[");
    for (const [i, item] of (value as readonly unknown[]).entries()) {
      if (pendingLength >= TEXT_PER_TURN) {
        yield pending.join("");
        pending = [];
        pendingLength = 0;
        await letOthersRun();
      }
      // As JSON.stringify writes an array element that has no JSON form (undefined, a function).
      write(`${i === 0 ? "" : ","}${JSON.stringify(item) ?? "null"}`);
    }
    write("]");
  }
  write(members === 0 ? "{}" : "}");
  yield pending.join("");
}

const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(new ArrayBuffer(0));

/**
 * Answers `reply` as `c.json(reply)` would, built by jsonPiecesInTurns: one string when it is one short piece, else
 * the pieces encoded as they come (each in the turn that wrote it) and streamed with the answer's `Content-Length`
 * (which Bun.serve drops for a chunked answer); a piece is let go once it is handed to the stream.
 *
 * @example
 * return jsonInTurns(c, { messages: messages.map(presentLeasedMessage) }, "messages");
 */
export async function jsonInTurns<T extends object, K extends keyof T & string>(c: Context, reply: T & Record<K, readonly unknown[]>, listKey: K): Promise<Response> {
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  for await (const piece of jsonPiecesInTurns(reply, listKey)) {
    // Only the last piece is shorter than TEXT_PER_TURN: a short first one is the whole answer.
    if (chunks.length === 0 && piece.length < TEXT_PER_TURN) return c.body(piece, 200, { "Content-Type": "application/json" });
    chunks.push(utf8.encode(piece));
  }
  const length = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
  let next = 0;
  const body = new ReadableStream<Uint8Array<ArrayBuffer>>({
    pull(controller) {
      const chunk = chunks[next];
      if (chunk === undefined) return controller.close();
      chunks[next++] = EMPTY;
      controller.enqueue(chunk);
    },
  });
  return c.body(body, 200, { "Content-Type": "application/json", "Content-Length": String(length) });
}
