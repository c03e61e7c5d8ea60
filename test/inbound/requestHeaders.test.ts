/** The request headers an accepted webhook keeps in the ledger: every name a sender chose, credentials dropped. */
import { describe, expect, it } from "vitest";
import type { IngressAuth } from "../../src/inbound/entries.ts";
import { headersForLedger } from "../../src/inbound/requestHeaders.ts";

const auth: IngressAuth = { type: "basic", username: "sender" };

describe("headers kept for the ledger", () => {
  it("keeps headers named like Object.prototype's members as sent, and still drops credentials", () => {
    const headers = new Headers([["__proto__", "a"], ["constructor", "b"], ["x-github-event", "push"], ["authorization", "Basic c2VuZGVyOnM="], ["x-api-key", "k"]]);
    const kept = headersForLedger(headers, auth);
    expect(Object.entries(kept).sort()).toEqual([["__proto__", "a"], ["constructor", "b"], ["x-github-event", "push"]]);
    expect(JSON.stringify(kept)).toContain('"__proto__":"a"');
  });

  it("keeps at most 100 headers and cuts each value at 4096 characters", () => {
    const headers = new Headers(Array.from({ length: 120 }, (_, i): [string, string] => [`x-h${String(i).padStart(3, "0")}`, "v".repeat(5000)]));
    const kept = headersForLedger(headers, auth);
    expect(Object.keys(kept)).toHaveLength(100);
    expect(Object.values(kept).every((value) => value.length === 4096)).toBe(true);
  });
});
