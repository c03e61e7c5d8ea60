import { createHmac } from "node:crypto";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { genericVerifierConfigSchema, type GenericVerifierConfig } from "../../src/inbound/verifiers/genericConfig.ts";
import { verifyGeneric } from "../../src/inbound/verifiers/generic.ts";
import { messageNonce } from "../../src/inbound/verifiers/requestParts.ts";
import { at, body, bytes, secret, T } from "./signers.ts";

const value = "generic-secret-value";
const rawBody = bytes(body);
const now = at(T);
const secrets = [secret("s", value)];

describe("generic verifier", () => {
  it.each([
    ["sha1 hex", { algorithm: "sha1", encoding: "hex" }, (mac: Buffer) => mac.toString("hex")],
    ["sha256 base64", { algorithm: "sha256", encoding: "base64" }, (mac: Buffer) => mac.toString("base64")],
    ["sha512 hex with prefix", { algorithm: "sha512", encoding: "hex", prefix: "sha512=" }, (mac: Buffer) => `sha512=${mac.toString("hex")}`],
    ["sha1 base64 with prefix", { algorithm: "sha1", encoding: "base64", prefix: "v1:" }, (mac: Buffer) => `v1:${mac.toString("base64")}`],
  ] as const)("verifies %s over the body", (_label, options, format) => {
    const genericConfig = v.parse(genericVerifierConfigSchema, { header: "X-Sig", signedPayload: "body", ...options });
    const header = format(createHmac(options.algorithm, value).update(body).digest());
    expect(verifyGeneric({ headers: { "x-sig": header }, rawBody, secrets, now, genericConfig })).toEqual({ ok: true, secretId: "s" });
    expect(verifyGeneric({ headers: { "x-sig": header }, rawBody: bytes(`${body}\n`), secrets, now, genericConfig })).toEqual({
      ok: false,
      reason: "signature_mismatch",
    });
  });

  it("verifies timestamp.body with the timestamp's tolerance and a configured nonce header", () => {
    const genericConfig = v.parse(genericVerifierConfigSchema, {
      header: "X-Sig",
      algorithm: "sha256",
      encoding: "hex",
      signedPayload: "timestamp.body",
      timestampHeader: "X-Sig-Timestamp",
      nonceHeader: "X-Delivery",
    });
    const headers = {
      "X-Sig": createHmac("sha256", value).update(`${T}.${body}`).digest("hex"),
      "X-Sig-Timestamp": String(T),
      "X-Delivery": "dlv_1",
    };
    const nonce = messageNonce(String(T), [`${T}.`, rawBody]);
    expect(verifyGeneric({ headers, rawBody, secrets, now, genericConfig })).toEqual({ ok: true, secretId: "s", signedAt: now, nonce });
    // The header is not signed: the same signed request with another value is the same message (a replay).
    expect(verifyGeneric({ headers: { ...headers, "X-Delivery": "dlv_2" }, rawBody, secrets, now, genericConfig })).toEqual({ ok: true, secretId: "s", signedAt: now, nonce });
    expect(verifyGeneric({ headers, rawBody, secrets, now: at(T + 301), genericConfig })).toEqual({ ok: false, reason: "timestamp_out_of_tolerance" });
    const { "X-Delivery": _nonce, ...withoutNonce } = headers;
    expect(verifyGeneric({ headers: withoutNonce, rawBody, secrets, now, genericConfig })).toEqual({ ok: false, reason: "missing_header" });
    const { "X-Sig-Timestamp": _ts, ...withoutTimestamp } = headers;
    expect(verifyGeneric({ headers: withoutTimestamp, rawBody, secrets, now, genericConfig })).toEqual({ ok: false, reason: "missing_header" });
  });

  it("reports a wrong prefix, encoding or length as malformed", () => {
    const genericConfig: GenericVerifierConfig = { header: "x-sig", algorithm: "sha256", encoding: "hex", prefix: "sha256=", signedPayload: "body" };
    const mac = createHmac("sha256", value).update(body).digest();
    for (const header of [mac.toString("hex"), `sha1=${mac.toString("hex")}`, `sha256=${mac.toString("base64")}`, `sha256=${mac.subarray(0, 20).toString("hex")}`]) {
      expect(verifyGeneric({ headers: { "x-sig": header }, rawBody, secrets, now, genericConfig }), header).toEqual({ ok: false, reason: "malformed" });
    }
  });

  it("throws without a config", () => {
    expect(() => verifyGeneric({ headers: {}, rawBody, secrets, now })).toThrow(TypeError);
  });
});

describe("genericVerifierConfigSchema", () => {
  const valid = { header: "X-Sig", algorithm: "sha256", encoding: "hex", signedPayload: "body" };

  it("normalises header names to lower case", () => {
    expect(v.parse(genericVerifierConfigSchema, { ...valid, header: " X-Sig ", nonceHeader: "X-Id" })).toEqual({
      ...valid,
      header: "x-sig",
      nonceHeader: "x-id",
    });
  });

  it.each([
    ["an unknown algorithm", { ...valid, algorithm: "md5" }, /algorithm/],
    ["an unknown encoding", { ...valid, encoding: "base32" }, /encoding/],
    ["an unknown signed payload", { ...valid, signedPayload: "body.timestamp" }, /signedPayload/],
    ["an invalid header name", { ...valid, header: "X Sig" }, /header/],
    ["an empty header name", { ...valid, header: "" }, /header/],
    ["a missing header", { algorithm: "sha256", encoding: "hex", signedPayload: "body" }, /header/],
    ["timestamp.body without timestampHeader", { ...valid, signedPayload: "timestamp.body" }, /timestampHeader/],
    ["a timestamp header over an unsigned timestamp", { ...valid, timestampHeader: "X-Ts" }, /timestampHeader/],
    ["a misspelt key", { ...valid, algorithim: "sha1" }, /algorithim/],
    ["a prefix with spaces", { ...valid, prefix: "sha 256=" }, /prefix/],
    ["an empty prefix", { ...valid, prefix: "" }, /prefix/],
    ["not an object", "sha256", /signedPayload|object/i],
  ])("refuses %s", (_label, input, where) => {
    const result = v.safeParse(genericVerifierConfigSchema, input);
    expect(result.success).toBe(false);
    if (result.success) return;
    const described = result.issues.map((issue) => `${v.getDotPath(issue) ?? ""} ${issue.message}`).join("; ");
    expect(described).toMatch(where);
  });
});
