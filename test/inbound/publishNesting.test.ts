/**
 * A received webhook becomes an outbound event; JSON nested deeper than events may be, or holding a number beyond a
 * double's range, is kept as text, byte-exact.
 */
import { describe, expect, it } from "vitest";
import { eventFromReceipt } from "../../src/inbound/publishTask.ts";
import type { ReceiptRow } from "../../src/inbound/receiptStore.ts";

const receipt = (body: string): ReceiptRow => ({
  receipt_id: "rcpt_test",
  route_id: "rt_000000000000000000000000",
  content_type: "application/json",
  headers: {},
  body: Buffer.from(body),
  body_sha256: "",
  verification: {},
  received_at: new Date("2026-12-02T00:00:00Z"),
});
const target = { app_id: "00000000-0000-4000-8000-000000000000", event_type: "github.push" };

describe("publishing a receipt", () => {
  it("publishes ordinary JSON as JSON", () => {
    expect(eventFromReceipt(receipt('{"a":[1,{"b":2}]}'), target)).toMatchObject({ encoding: "json", payload: '{"a":[1,{"b":2}]}', parsedPayload: { a: [1, { b: 2 }] } });
  });

  it("publishes JSON naming a member twice in one object as text, byte-exact, not as JSON its schema would judge by the last", () => {
    for (const body of ['{"amount":1000000,"amount":5}', '{"lines":[{"sku":"a","sku":"b"}]}']) {
      const event = eventFromReceipt(receipt(body), target);
      expect(event).toMatchObject({ encoding: "text", payload: body });
      expect(event.parsedPayload).toBeUndefined();
    }
    expect(eventFromReceipt(receipt('{"id":1,"customer":{"id":2}}'), target).encoding).toBe("json");
  });

  it("publishes JSON with a number beyond a double's range as text, so the event shows 1e400, not null", () => {
    for (const body of ['{"a":1e400}', '[0,{"b":[-2e308]}]', '{"c":{"d":123e999}}']) {
      const event = eventFromReceipt(receipt(body), target);
      expect(event.encoding).toBe("text");
      expect(event.payload).toBe(body);
      expect(event.parsedPayload).toBeUndefined();
    }
    // Large but finite numbers stay JSON.
    expect(eventFromReceipt(receipt('{"a":1e308,"b":-5e-324}'), target).encoding).toBe("json");
  });

  it("publishes JSON nested 20,000 deep as text, the bytes unchanged, so nothing recursive walks it", () => {
    const deep = `${"[".repeat(20_000)}${"]".repeat(20_000)}`;
    const event = eventFromReceipt(receipt(deep), target);
    expect(event.encoding).toBe("text");
    expect(event.payload).toBe(deep);
    expect(event.parsedPayload).toBeUndefined();
  });
});
