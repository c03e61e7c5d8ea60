import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  parseHookledgerSignature,
  signHookledgerV1,
  verifyHookledgerV1,
} from "../../src/crypto/hookledgerV1.ts";
import { generateSigningSecret } from "../../src/crypto/secrets.ts";

const keyBytes = Buffer.alloc(32, 0xab);
const secret = `whsec_${keyBytes.toString("base64")}`;
const body = '{"event":"order.created","id":"ord_1"}';
const headers = { "Content-Type": "application/json", "X-Tenant": "acme", "X-Unsigned": "free" };

describe("hookledger-v1 signing", () => {
  it("signs exactly t.names.values.body (known answer)", () => {
    const signedString = `1704067200.x-tenant content-type.acme.application/json.${body}`;
    const expected = createHmac("sha256", keyBytes).update(signedString).digest("hex");

    const value = signHookledgerV1({ timestamp: 1704067200, headers, signedHeaderNames: ["X-Tenant", "Content-Type"], body, secrets: [secret] });
    expect(value).toBe(`t=1704067200,h=x-tenant content-type,v1=${expected}`);
  });

  it("signs t...body when no header is chosen", () => {
    const expected = createHmac("sha256", keyBytes).update(`1704067200...${body}`).digest("hex");
    expect(signHookledgerV1({ timestamp: new Date(1704067200_500), headers: {}, signedHeaderNames: [], body, secrets: [secret] })).toBe(
      `t=1704067200,h=,v1=${expected}`,
    );
  });

  it("emits one v1 per secret during rotation, each verifying alone", () => {
    const next = generateSigningSecret();
    const value = signHookledgerV1({ timestamp: 1704067200, headers, signedHeaderNames: ["x-tenant"], body, secrets: [next, secret] });
    const parsed = parseHookledgerSignature(value);
    expect(parsed?.signatures).toHaveLength(2);
    expect(verifyHookledgerV1({ signature: value, headers, body, secret })).toBe(true);
    expect(verifyHookledgerV1({ signature: value, headers, body, secret: next })).toBe(true);
    expect(verifyHookledgerV1({ signature: value, headers, body, secret: generateSigningSecret() })).toBe(false);
  });

  it("fails when a signed header value or the body is altered, not when an unsigned header is", () => {
    const value = signHookledgerV1({ timestamp: 1704067200, headers, signedHeaderNames: ["x-tenant", "content-type"], body, secrets: [secret] });
    expect(verifyHookledgerV1({ signature: value, headers, body, secret })).toBe(true);
    expect(verifyHookledgerV1({ signature: value, headers: { ...headers, "X-Tenant": "evil" }, body, secret })).toBe(false);
    expect(verifyHookledgerV1({ signature: value, headers: { ...headers, "X-Unsigned": "changed" }, body, secret })).toBe(true);
    expect(verifyHookledgerV1({ signature: value, headers, body: `${body} `, secret })).toBe(false);
    const { "X-Tenant": _dropped, ...withoutTenant } = headers;
    expect(verifyHookledgerV1({ signature: value, headers: withoutTenant, body, secret })).toBe(false);
  });

  it("respects the order of header names", () => {
    const forward = signHookledgerV1({ timestamp: 1704067200, headers, signedHeaderNames: ["x-tenant", "content-type"], body, secrets: [secret] });
    const backward = signHookledgerV1({ timestamp: 1704067200, headers, signedHeaderNames: ["content-type", "x-tenant"], body, secrets: [secret] });
    expect(forward.split(",v1=")[1]).not.toBe(backward.split(",v1=")[1]);
    // Reordering h on the wire without re-signing breaks the signature.
    const reordered = forward.replace("h=x-tenant content-type", "h=content-type x-tenant");
    expect(verifyHookledgerV1({ signature: reordered, headers, body, secret })).toBe(false);
    expect(verifyHookledgerV1({ signature: backward, headers, body, secret })).toBe(true);
  });

  it("looks headers up case-insensitively, in records and Headers objects", () => {
    const value = signHookledgerV1({
      timestamp: 1704067200,
      headers: { "x-tenant": "acme", "CONTENT-TYPE": "application/json" },
      signedHeaderNames: ["X-Tenant", "Content-Type"],
      body,
      secrets: [secret],
    });
    expect(value).toBe(signHookledgerV1({ timestamp: 1704067200, headers, signedHeaderNames: ["x-tenant", "content-type"], body, secrets: [secret] }));
    const fetchHeaders = new Headers({ "X-TENANT": "acme", "content-type": "application/json" });
    expect(verifyHookledgerV1({ signature: value, headers: fetchHeaders, body: new TextEncoder().encode(body), secret })).toBe(true);
  });

  it("refuses to sign a missing, repeated or invalid header name", () => {
    const base = { timestamp: 1704067200, headers, body, secrets: [secret] };
    expect(() => signHookledgerV1({ ...base, signedHeaderNames: ["x-absent"] })).toThrow(/missing/);
    expect(() => signHookledgerV1({ ...base, signedHeaderNames: ["x-tenant", "X-Tenant"] })).toThrow(/twice/);
    expect(() => signHookledgerV1({ ...base, signedHeaderNames: ["x tenant"] })).toThrow(/not a valid header name/);
    expect(() => signHookledgerV1({ ...base, signedHeaderNames: ["x.tenant"] })).toThrow(/not a valid header name/);
    expect(() => signHookledgerV1({ ...base, signedHeaderNames: [], secrets: [] })).toThrow(/at least one secret/);
  });
});

describe("parseHookledgerSignature", () => {
  it.each([
    "",
    "t=1704067200,h=x-a",
    "h=x-a,v1=ab",
    "t=1704067200,t=1704067201,h=,v1=ab",
    "t=1704067200,h=,h=,v1=ab",
    "t=01704067200,h=,v1=ab",
    "t=-5,h=,v1=ab",
    "t=1704067200,h=X-Upper,v1=ab",
    "t=1704067200,h=x-a x-a,v1=ab",
    "t=1704067200,h=x-a  x-b,v1=ab",
    "t=1704067200,h=x.a,v1=ab",
    "t=1704067200,h=,v1=ab,garbage",
  ])("refuses %j", (value) => {
    expect(parseHookledgerSignature(value)).toBeUndefined();
  });

  it("ignores unknown items for forward compatibility", () => {
    expect(parseHookledgerSignature("t=1704067200,h=x-a x-b,v2=zz,v1=ab,v1=cd")).toEqual({
      timestamp: 1704067200,
      signedHeaderNames: ["x-a", "x-b"],
      signatures: ["ab", "cd"],
    });
  });
});
