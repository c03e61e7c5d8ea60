/**
 * A page of `GET /v1/events` holds at most 8 MB of payloads (a first event larger than that comes alone), and its
 * cursor goes on: 250 events of 500 KB made one 125 MB answer that held the event loop 2 s. Paging still visits
 * every event once, newest first.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { outboundTenant } from "./setup.ts";

const KB = 1024;

let db: TestDatabase;
let app: TestApp;
let t: Awaited<ReturnType<typeof outboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestApp(db, { env: { HOOKLEDGER_MAX_EVENT_BYTES: String(4 * 1024 * KB), HOOKLEDGER_MAX_BODY_BYTES: String(8 * 1024 * KB) } });
  t = await outboundTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await db.drop();
});

type Listed = { id: string; payload_text: string };

describe("pages of events", () => {
  it("stop at 8 MB of payloads and page on through every event, newest first", async () => {
    // Oldest first: 3 MB, 3 MB, 3 MB, then a 4 MB one, then small ones (the newest).
    const sizes = [3 * 1024 * KB, 3 * 1024 * KB, 3 * 1024 * KB, 4 * 1024 * KB, 10, 10];
    for (const [i, size] of sizes.entries()) {
      const sent = await t.send({ event_id: `big_${i}`, payload: undefined, payload_text: String(i).repeat(size), content_type: "text/plain" });
      expect(sent.status, JSON.stringify(sent.body)).toBe(202);
    }
    const pages: Listed[][] = [];
    let after: string | null = null;
    do {
      const res = await app.call("GET", `/v1/events?limit=250${after ? `&after=${after}` : ""}`, t.token);
      expect(res.status).toBe(200);
      pages.push(res.body.data as Listed[]);
      after = res.body.next_cursor;
    } while (after !== null && pages.length < 10);
    const ids = pages.map((page) => page.map((event) => event.id));
    // Newest first: 10 B + 10 B + 4 MB + 3 MB fit in 8 MB, the next 3 MB does not; the last two make the second page.
    expect(ids).toEqual([["big_5", "big_4", "big_3", "big_2"], ["big_1", "big_0"]]);
    for (const page of pages) {
      const bytes = page.reduce((sum, event) => sum + Buffer.byteLength(event.payload_text), 0);
      expect(page.length === 1 || bytes <= 8 * 1024 * KB).toBe(true);
    }
    expect(pages.flat().every((event) => event.payload_text === event.id.slice(4).repeat(event.payload_text.length))).toBe(true);
  });
});
