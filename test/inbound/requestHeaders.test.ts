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

  it("drops headers named for a credential or a signature in any scheme, and keeps ordinary ones", () => {
    const secretNames = [
      "x-hmac", "authentication", "x-acme-mac", "mac", "x-sig", "sig-v2", "x-auth", "auth", "x-access-key", "x-credential",
      "x-pass", "x-pwd", "x-auth-token", "api-key", "x-twilio-signature", "x-gitlab-token", "x-signature", "cookie2", "x-session-id",
      "x-webhook-secret", "proxy-authorization", "x-authorisation",
      // Keys, signing material and private values by any name a sender's scheme gives them.
      "x-webhook-key", "x-signing-key", "private-key", "x-key", "key", "x-api-key", "x_api_key", "x-apikey", "apikey", "x-access-key", "x-client-keys",
      "x-key-id", "x-hookkey", "x-signing-secret", "x-private-token", "x-private", "x-credentials", "x-passwd", "x-password", "x-session",
      // Tokens, one-time codes and client certificates by their usual short names (sweep 20).
      "x-jwt", "bearer", "x-bearer-token", "x-otp", "otp", "x-client-cert", "x-ssl-cert", "x-access", "access",
    ];
    const ordinary = [
      "x-github-event", "x-request-id", "idempotency-key", "x-idempotency-key", "x-machine", "x-signal", "x-author", "x-passport-country", "user-agent", "content-type",
      // Only a name part that is or ends in `key` is a key: these merely start with it, or have no key at all.
      "x-keyboard", "x-keystone-version", "x-keep-alive-timeout", "x-privacy-policy", "x-github-hook-id", "svix-id", "svix-timestamp", "webhook-id", "webhook-timestamp",
      // CORS preflight headers say what a browser asks, never who it is.
      "access-control-request-method", "access-control-request-headers", "x-certainty", "x-accessible",
    ];
    const headers = new Headers([...secretNames, ...ordinary].map((name): [string, string] => [name, `value-of-${name}`]));
    const kept = headersForLedger(headers, auth);
    expect(Object.keys(kept).sort()).toEqual([...ordinary].sort());
  });

  it("keeps Content-* headers past the cap: publishing reads Content-Encoding", () => {
    const many = Array.from({ length: 120 }, (_, i): [string, string] => [`a-h${String(i).padStart(3, "0")}`, "v"]);
    const kept = headersForLedger(new Headers([...many, ["content-encoding", "gzip"], ["content-type", "application/json"], ["x-late", "dropped"]]), auth);
    expect(kept["content-encoding"]).toBe("gzip");
    expect(kept["content-type"]).toBe("application/json");
    expect(kept["x-late"]).toBeUndefined();
  });

  it("keeps at most 100 headers and cuts each value at 4096 characters", () => {
    const headers = new Headers(Array.from({ length: 120 }, (_, i): [string, string] => [`x-h${String(i).padStart(3, "0")}`, "v".repeat(5000)]));
    const kept = headersForLedger(headers, auth);
    expect(Object.keys(kept)).toHaveLength(100);
    expect(Object.values(kept).every((value) => value.length === 4096)).toBe(true);
  });
});
