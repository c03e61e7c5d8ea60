/**
 * Behaviour every preset shares, run against signatures made by each provider's own algorithm: valid and
 * invalid signatures, the tolerance window's edges, and secret rotation at its exact boundaries.
 */
import { describe, expect, it } from "vitest";
import { verifierPresets, type VerifyInput, type VerifyResult } from "../../src/inbound/verifiers/presets.ts";
import { at, body, bytes, presetCases, secret, T, type PresetCase } from "./signers.ts";

function verify(testCase: PresetCase, input: Omit<VerifyInput, "genericConfig">): VerifyResult {
  const genericConfig = testCase.genericConfig;
  return verifierPresets[testCase.preset](genericConfig === undefined ? input : { ...input, genericConfig });
}

const label = (testCase: PresetCase): string =>
  testCase.genericConfig === undefined ? testCase.preset : `generic (${testCase.genericConfig.signedPayload})`;

describe.each(presetCases.map((testCase) => [label(testCase), testCase] as const))("%s", (_name, testCase) => {
  const value = testCase.newSecret();
  const signed = (secretValue = value, timestamp = T, text = body) => testCase.sign({ secret: secretValue, timestamp, body: text });

  it("accepts a valid signature, naming the secret, the signed time and a nonce", async () => {
    const headers = await signed();
    const verdict = verify(testCase, { headers, rawBody: bytes(body), secrets: [secret("s1", value)], now: at(T) });
    expect(verdict).toMatchObject({ ok: true, secretId: "s1" });
    if (!verdict.ok) return;
    if (testCase.timestamped) expect(verdict.signedAt).toEqual(at(T));
    else expect(verdict.signedAt).toBeUndefined();
    if (testCase.genericConfig?.signedPayload !== "body") expect(verdict.nonce).toEqual(expect.any(String));
  });

  it("accepts a Headers object as well as a record", async () => {
    const headers = new Headers(await signed());
    expect(verify(testCase, { headers, rawBody: bytes(body), secrets: [secret("s1", value)], now: at(T) }).ok).toBe(true);
  });

  it("rejects a signature made with another secret", async () => {
    const headers = await signed(testCase.newSecret());
    expect(verify(testCase, { headers, rawBody: bytes(body), secrets: [secret("s1", value)], now: at(T) })).toEqual({
      ok: false,
      reason: "signature_mismatch",
    });
  });

  it("rejects a tampered body", async () => {
    const headers = await signed();
    const tampered = bytes(body.replace('"n":1', '"n":2'));
    expect(verify(testCase, { headers, rawBody: tampered, secrets: [secret("s1", value)], now: at(T) })).toEqual({
      ok: false,
      reason: "signature_mismatch",
    });
  });

  it("rejects a request without its signature header", async () => {
    expect(verify(testCase, { headers: {}, rawBody: bytes(body), secrets: [secret("s1", value)], now: at(T) })).toEqual({
      ok: false,
      reason: "missing_header",
    });
  });

  it("reports no_valid_secret when no secret is valid at the relevant time", async () => {
    const headers = await signed();
    const secrets = [secret("future", value, at(T + 1)), secret("past", value, at(0), at(T))];
    expect(verify(testCase, { headers, rawBody: bytes(body), secrets, now: at(T) })).toEqual({ ok: false, reason: "no_valid_secret" });
    expect(verify(testCase, { headers, rawBody: bytes(body), secrets: [], now: at(T) })).toEqual({ ok: false, reason: "no_valid_secret" });
  });

  it("at a rotation boundary, uses the secret starting at that second and not the one ending at it", async () => {
    const next = testCase.newSecret();
    const secrets = [secret("old", value, at(0), at(T)), secret("new", next, at(T))];
    const byOld = await signed(value);
    const byNew = await signed(next);
    expect(verify(testCase, { headers: byNew, rawBody: bytes(body), secrets, now: at(T) })).toMatchObject({ ok: true, secretId: "new" });
    expect(verify(testCase, { headers: byOld, rawBody: bytes(body), secrets, now: at(T) })).toEqual({
      ok: false,
      reason: "signature_mismatch",
    });
  });

  it("during an overlap, verifies with either secret", async () => {
    const next = testCase.newSecret();
    const secrets = [secret("old", value, at(0), at(T + 3600)), secret("new", next, at(T - 3600))];
    for (const [signer, expected] of [[value, "old"], [next, "new"]] as const) {
      const headers = await signed(signer);
      expect(verify(testCase, { headers, rawBody: bytes(body), secrets, now: at(T) })).toMatchObject({ ok: true, secretId: expected });
    }
  });

  if (!testCase.timestamped) {
    it("chooses secrets at `now`, since nothing signed says otherwise", async () => {
      const headers = await signed();
      const secrets = [secret("s1", value, at(0), at(T + 10))];
      expect(verify(testCase, { headers, rawBody: bytes(body), secrets, now: at(T + 9) }).ok).toBe(true);
      expect(verify(testCase, { headers, rawBody: bytes(body), secrets, now: at(T + 10) })).toEqual({ ok: false, reason: "no_valid_secret" });
    });
    return;
  }

  it("accepts exactly at the tolerance and rejects one second beyond, in both directions", async () => {
    const headers = await signed();
    const check = (now: number, toleranceSeconds?: number) =>
      verify(testCase, { headers, rawBody: bytes(body), secrets: [secret("s1", value)], now: at(now), toleranceSeconds });
    expect(check(T + 300).ok).toBe(true);
    expect(check(T + 301)).toEqual({ ok: false, reason: "timestamp_out_of_tolerance" });
    expect(check(T - 300).ok).toBe(true);
    expect(check(T - 301)).toEqual({ ok: false, reason: "timestamp_out_of_tolerance" });
    expect(check(T + 60, 60).ok).toBe(true);
    expect(check(T + 61, 60)).toEqual({ ok: false, reason: "timestamp_out_of_tolerance" });
    expect(check(T - 61, 60)).toEqual({ ok: false, reason: "timestamp_out_of_tolerance" });
  });

  it("chooses secrets at the signed timestamp, not at `now`", async () => {
    const next = testCase.newSecret();
    // The old secret ended 5 s after signing; the request arrives 60 s after signing.
    const secrets = [secret("old", value, at(0), at(T + 5)), secret("new", next, at(T + 5))];
    const byOld = await signed(value);
    expect(verify(testCase, { headers: byOld, rawBody: bytes(body), secrets, now: at(T + 60) })).toMatchObject({ ok: true, secretId: "old" });
    // A secret that only starts after the signed time is not tried, even though it is valid now.
    const byNew = await signed(next);
    expect(verify(testCase, { headers: byNew, rawBody: bytes(body), secrets, now: at(T + 60) })).toEqual({
      ok: false,
      reason: "signature_mismatch",
    });
    expect(verify(testCase, { headers: byNew, rawBody: bytes(body), secrets: [secrets[1]!], now: at(T + 60) })).toEqual({
      ok: false,
      reason: "no_valid_secret",
    });
  });

  it("rejects a timestamp altered after signing", async () => {
    const headers = await signed(value, T);
    const moved = JSON.parse(JSON.stringify(headers).replaceAll(String(T), String(T + 1))) as Record<string, string>;
    expect(verify(testCase, { headers: moved, rawBody: bytes(body), secrets: [secret("s1", value)], now: at(T) })).toEqual({
      ok: false,
      reason: "signature_mismatch",
    });
  });

  it("gives the same nonce for the same message and a different one for another", async () => {
    const input = { rawBody: bytes(body), secrets: [secret("s1", value)], now: at(T) };
    const first = verify(testCase, { ...input, headers: await signed() });
    const again = verify(testCase, { ...input, headers: await signed() });
    const later = verify(testCase, { ...input, headers: await signed(value, T + 1) });
    expect(first.ok && again.ok && later.ok).toBe(true);
    if (!first.ok || !again.ok || !later.ok) return;
    expect(again.nonce).toBe(first.nonce);
    if (testCase.preset !== "standard-webhooks") expect(later.nonce).not.toBe(first.nonce);
  });
});
