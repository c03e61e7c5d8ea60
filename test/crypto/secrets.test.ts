import { Buffer } from "node:buffer";
import { describe, expect, it } from "vitest";
import { timingSafeEqualBytes, timingSafeEqualStrings } from "../../src/crypto/constantTime.ts";
import { InvalidSigningSecretError } from "../../src/crypto/errors.ts";
import { decodeSigningSecret, generateSigningSecret } from "../../src/crypto/secrets.ts";

describe("signing secrets", () => {
  it("generates whsec_ + base64 of 32 random bytes, different every time", () => {
    const secret = generateSigningSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(decodeSigningSecret(secret).byteLength).toBe(32);
    expect(generateSigningSecret()).not.toBe(secret);
  });

  it("decodes whsec_ secrets of 24 to 64 bytes", () => {
    const key = Buffer.alloc(24, 7);
    expect(Buffer.from(decodeSigningSecret(`whsec_${key.toString("base64")}`))).toEqual(key);
    expect(decodeSigningSecret(`whsec_${Buffer.alloc(64, 1).toString("base64")}`).byteLength).toBe(64);
  });

  it.each([
    ["no prefix", Buffer.alloc(32, 1).toString("base64"), "must start with"],
    ["another prefix", `whsk_${Buffer.alloc(32, 1).toString("base64")}`, "must start with"],
    ["not base64", "whsec_not*base64!!", "padded base64"],
    ["missing padding", `whsec_${Buffer.alloc(32, 1).toString("base64").replace(/=+$/, "")}`, "padded base64"],
    ["too short", `whsec_${Buffer.alloc(16, 1).toString("base64")}`, "this one encodes 16"],
    ["too long", `whsec_${Buffer.alloc(65, 1).toString("base64")}`, "this one encodes 65"],
    ["empty", "whsec_", "this one encodes 0"],
  ])("refuses %s without echoing the value", (_label, secret, message) => {
    let error: unknown;
    try {
      decodeSigningSecret(secret);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidSigningSecretError);
    expect((error as Error).message).toContain(message);
    const body = secret.replace(/^whs[a-z]+_/, "");
    if (body.length > 0) expect((error as Error).message).not.toContain(body);
  });
});

describe("constant-time comparison", () => {
  it("compares strings and bytes of any lengths", () => {
    expect(timingSafeEqualStrings("abc", "abc")).toBe(true);
    expect(timingSafeEqualStrings("abc", "abd")).toBe(false);
    expect(timingSafeEqualStrings("abc", "abcd")).toBe(false);
    expect(timingSafeEqualStrings("", "")).toBe(true);
    expect(timingSafeEqualStrings("", "a")).toBe(false);
    expect(timingSafeEqualStrings("é", "e\u0301")).toBe(false);
    expect(timingSafeEqualBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(timingSafeEqualBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2, 0]))).toBe(false);
  });
});
