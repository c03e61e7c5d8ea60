import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { InvalidSigningSecretError } from "../../src/crypto/errors.ts";
import { generateSigningSecret } from "../../src/crypto/secrets.ts";
import { signStandardWebhook, standardWebhookV1Signatures, verifyStandardWebhook } from "../../src/crypto/standardWebhooks.ts";

const body = JSON.stringify({ type: "invoice.paid", data: { id: "inv_1", amount: 4200 } });

afterEach(() => {
  vi.useRealTimers();
});

describe("signStandardWebhook", () => {
  it("produces headers the official standardwebhooks library verifies", () => {
    const secret = generateSigningSecret();
    const headers = signStandardWebhook({ id: "msg_1", timestamp: new Date(), body, secrets: [secret] });
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
  });

  it("signs with every secret of a rotation overlap, and each secret alone verifies", () => {
    const previous = generateSigningSecret();
    const current = generateSigningSecret();
    const headers = signStandardWebhook({ id: "msg_2", timestamp: new Date(), body, secrets: [current, previous] });
    expect(headers["webhook-signature"].split(" ")).toHaveLength(2);
    expect(() => new Webhook(current).verify(body, { ...headers })).not.toThrow();
    expect(() => new Webhook(previous).verify(body, { ...headers })).not.toThrow();
    expect(() => new Webhook(generateSigningSecret()).verify(body, { ...headers })).toThrow(/No matching signature/);
  });

  it("fails the library's verification when the body or the timestamp is altered", () => {
    const secret = generateSigningSecret();
    const headers = signStandardWebhook({ id: "msg_3", timestamp: new Date(), body, secrets: [secret] });
    const webhook = new Webhook(secret);
    expect(() => webhook.verify(body.replace("4200", "4201"), { ...headers })).toThrow(/No matching signature/);
    const earlier = String(Number(headers["webhook-timestamp"]) - 1);
    expect(() => webhook.verify(body, { ...headers, "webhook-timestamp": earlier })).toThrow(/No matching signature/);
    expect(() => webhook.verify(body, { ...headers, "webhook-id": "msg_4" })).toThrow(/No matching signature/);
  });

  it("matches an independently computed HMAC (known answer)", () => {
    const key = Buffer.alloc(32);
    for (let i = 0; i < key.length; i++) key[i] = i;
    const secret = `whsec_${key.toString("base64")}`;
    const expected = createHmac("sha256", key).update(`msg_known.1700000000.${body}`).digest("base64");

    const headers = signStandardWebhook({ id: "msg_known", timestamp: 1700000000, body, secrets: [secret] });
    expect(headers).toEqual({ "webhook-id": "msg_known", "webhook-timestamp": "1700000000", "webhook-signature": `v1,${expected}` });

    // The same message given as a Date and as bytes signs identically.
    const fromDate = signStandardWebhook({
      id: "msg_known",
      timestamp: new Date(1700000000_999),
      body: new TextEncoder().encode(body),
      secrets: [secret],
    });
    expect(fromDate).toEqual(headers);

    // And the library agrees at that instant.
    vi.useFakeTimers({ now: 1700000000_000, toFake: ["Date"] });
    expect(new Webhook(secret).sign("msg_known", new Date(), body)).toBe(`v1,${expected}`);
    expect(() => new Webhook(secret).verify(body, { ...headers })).not.toThrow();
  });

  it("matches the published Svix / Standard Webhooks test vector", () => {
    const headers = signStandardWebhook({
      id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
      timestamp: 1614265330,
      body: '{"test": 2432232314}',
      secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    });
    expect(headers["webhook-signature"]).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  });

  it("refuses ids the spec forbids, empty secret lists and non-whsec secrets", () => {
    const secret = generateSigningSecret();
    expect(() => signStandardWebhook({ id: "msg.1", timestamp: 1, body, secrets: [secret] })).toThrow(RangeError);
    expect(() => signStandardWebhook({ id: "msg 1", timestamp: 1, body, secrets: [secret] })).toThrow(RangeError);
    expect(() => signStandardWebhook({ id: "", timestamp: 1, body, secrets: [secret] })).toThrow(RangeError);
    expect(() => signStandardWebhook({ id: "msg_1", timestamp: 1, body, secrets: [] })).toThrow(RangeError);
    expect(() => signStandardWebhook({ id: "msg_1", timestamp: 1.5, body, secrets: [secret] })).toThrow(RangeError);
    expect(() => signStandardWebhook({ id: "msg_1", timestamp: 1, body, secrets: ["plain"] })).toThrow(InvalidSigningSecretError);
  });
});

describe("verifyStandardWebhook", () => {
  it("accepts the library's signature among other versions and rejects other secrets or content", () => {
    const secret = generateSigningSecret();
    const date = new Date(1700000000_000);
    const librarySignature = new Webhook(secret).sign("msg_9", date, body);
    const signatureHeader = `v1a,bm90LWVkMjU1MTk= ${librarySignature}`;
    expect(standardWebhookV1Signatures(signatureHeader)).toEqual([librarySignature.slice(3)]);
    const input = { id: "msg_9", timestamp: 1700000000, body, signatureHeader, secret };
    expect(verifyStandardWebhook(input)).toBe(true);
    expect(verifyStandardWebhook({ ...input, secret: generateSigningSecret() })).toBe(false);
    expect(verifyStandardWebhook({ ...input, timestamp: 1700000001 })).toBe(false);
    expect(verifyStandardWebhook({ ...input, body: `${body} ` })).toBe(false);
    expect(verifyStandardWebhook({ ...input, signatureHeader: librarySignature.replace("v1,", "v2,") })).toBe(false);
  });
});
