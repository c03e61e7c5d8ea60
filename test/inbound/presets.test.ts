/** What each preset does beyond the shared contract: its header formats, malformed inputs and nonces. */
import { createHmac } from "node:crypto";
import { sign as signGithub } from "@octokit/webhooks-methods";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { InvalidSigningSecretError } from "../../src/crypto/errors.ts";
import { signHookledgerV1 } from "../../src/crypto/hookledgerV1.ts";
import { generateSigningSecret } from "../../src/crypto/secrets.ts";
import { isVerifierPreset, verifierPresetNames, verifierPresets } from "../../src/inbound/verifiers/presets.ts";
import { at, body, bytes, secret, stripeWebhooks, T } from "./signers.ts";

const rawBody = bytes(body);
const now = at(T);

describe("registry", () => {
  it("names every preset", () => {
    expect(verifierPresetNames).toEqual(["github", "stripe", "slack", "shopify", "standard-webhooks", "hookledger-v1", "generic"]);
    expect(isVerifierPreset("stripe")).toBe(true);
    expect(isVerifierPreset("toString")).toBe(false);
  });
});

describe("github", () => {
  const value = "It's a Secret to Everybody";
  const verify = verifierPresets.github;

  it("matches GitHub's documented example and uses X-GitHub-Delivery as nonce", async () => {
    // From GitHub's "Validating webhook deliveries" documentation.
    const headers = {
      "X-Hub-Signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
      "X-GitHub-Delivery": "d-1",
    };
    expect(await signGithub(value, "Hello, World!")).toBe(headers["X-Hub-Signature-256"]);
    expect(verify({ headers, rawBody: bytes("Hello, World!"), secrets: [secret("s", value)], now })).toEqual({
      ok: true,
      secretId: "s",
      nonce: "d-1",
    });
  });

  it.each([
    ["legacy sha1 header only", { "X-Hub-Signature": "sha1=abc" }, "missing_header"],
    ["empty header", { "X-Hub-Signature-256": "" }, "missing_header"],
    ["no prefix", { "X-Hub-Signature-256": "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17" }, "malformed"],
    ["sha1 prefix", { "X-Hub-Signature-256": "sha1=757107ea0eb2509fc211221cce984b8a37570b6d" }, "malformed"],
    ["not hex", { "X-Hub-Signature-256": `sha256=${"z".repeat(64)}` }, "malformed"],
    ["short digest", { "X-Hub-Signature-256": `sha256=${"a".repeat(62)}` }, "malformed"],
  ])("rejects %s", (_label, headers, reason) => {
    expect(verify({ headers, rawBody, secrets: [secret("s", value)], now })).toEqual({ ok: false, reason });
  });

  it("accepts upper-case hex", async () => {
    const signature = (await signGithub(value, body)).toUpperCase().replace("SHA256=", "sha256=");
    expect(verify({ headers: { "x-hub-signature-256": signature }, rawBody, secrets: [secret("s", value)], now }).ok).toBe(true);
  });
});

describe("stripe", () => {
  const verify = verifierPresets.stripe;
  const current = "whsec_current_test_secret";
  const previous = "whsec_previous_test_secret";
  const header = (secretValue: string) => stripeWebhooks.generateTestHeaderString({ payload: body, secret: secretValue, timestamp: T });
  const v1Of = (value: string) => value.split(",").find((item) => item.startsWith("v1="))!;

  it("accepts any v1 of a rolled secret and ignores v0", () => {
    const combined = `t=${T},${v1Of(header(previous))},${v1Of(header(current))},v0=${"0".repeat(64)}`;
    for (const [value, id] of [[current, "cur"], [previous, "prev"]] as const) {
      expect(verify({ headers: { "Stripe-Signature": combined }, rawBody, secrets: [secret(id, value)], now })).toMatchObject({ ok: true, secretId: id });
    }
  });

  it("gives the same nonce whichever v1 matched, so dropping one signature does not mint a new nonce", () => {
    const both = `t=${T},${v1Of(header(previous))},${v1Of(header(current))}`;
    const onlyCurrent = `t=${T},${v1Of(header(current))}`;
    const secrets = [secret("prev", previous), secret("cur", current)];
    const first = verify({ headers: { "Stripe-Signature": both }, rawBody, secrets, now });
    const replay = verify({ headers: { "Stripe-Signature": onlyCurrent }, rawBody, secrets, now });
    expect(first).toMatchObject({ ok: true, secretId: "prev" });
    expect(replay).toMatchObject({ ok: true, secretId: "cur" });
    expect(first.ok && replay.ok && first.nonce === replay.nonce).toBe(true);
    expect(first.ok && first.nonce?.startsWith(`${T}.`)).toBe(true);
  });

  it.each([
    ["no timestamp", `v1=${"a".repeat(64)}`],
    ["two timestamps", `t=${T},t=${T + 1},v1=${"a".repeat(64)}`],
    ["no v1", `t=${T},v0=${"a".repeat(64)}`],
    ["v1 not hex", `t=${T},v1=${"x".repeat(64)}`],
    ["fractional timestamp", `t=${T}.5,v1=${"a".repeat(64)}`],
    ["garbage", "hello"],
  ])("rejects %s as malformed", (_label, value) => {
    expect(verify({ headers: { "Stripe-Signature": value }, rawBody, secrets: [secret("s", current)], now })).toEqual({ ok: false, reason: "malformed" });
  });

  it("keys the HMAC with the whole whsec_ string, as Stripe does", () => {
    const manual = createHmac("sha256", current).update(`${T}.${body}`).digest("hex");
    expect(header(current)).toBe(`t=${T},v1=${manual}`);
  });
});

describe("slack", () => {
  const verify = verifierPresets.slack;
  const value = "8f742231b10e8888abcd99yyyzzz85a5";
  const signature = (timestamp: string, text: string) => `v0=${createHmac("sha256", value).update(`v0:${timestamp}:${text}`).digest("hex")}`;

  it("needs both the signature and the timestamp header", () => {
    const secrets = [secret("s", value)];
    expect(verify({ headers: { "X-Slack-Signature": signature(String(T), body) }, rawBody, secrets, now })).toEqual({ ok: false, reason: "missing_header" });
    expect(verify({ headers: { "X-Slack-Request-Timestamp": String(T) }, rawBody, secrets, now })).toEqual({ ok: false, reason: "missing_header" });
  });

  it.each([
    ["v1 prefix", { "X-Slack-Request-Timestamp": String(T), "X-Slack-Signature": `v1=${"a".repeat(64)}` }],
    ["not hex", { "X-Slack-Request-Timestamp": String(T), "X-Slack-Signature": `v0=${"q".repeat(64)}` }],
    ["timestamp not a number", { "X-Slack-Request-Timestamp": "yesterday", "X-Slack-Signature": `v0=${"a".repeat(64)}` }],
    ["timestamp with leading zero", { "X-Slack-Request-Timestamp": `0${T}`, "X-Slack-Signature": `v0=${"a".repeat(64)}` }],
  ])("rejects %s as malformed", (_label, headers) => {
    expect(verify({ headers, rawBody, secrets: [secret("s", value)], now })).toEqual({ ok: false, reason: "malformed" });
  });

  it("verifies a form-encoded slash command body", () => {
    const form = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&command=%2Fweather&text=94070";
    const headers = { "X-Slack-Request-Timestamp": String(T), "X-Slack-Signature": signature(String(T), form) };
    expect(verify({ headers, rawBody: bytes(form), secrets: [secret("s", value)], now })).toMatchObject({ ok: true, signedAt: now });
  });
});

describe("shopify", () => {
  const verify = verifierPresets.shopify;
  const value = "shpss_0123456789abcdef";
  const hmac = createHmac("sha256", value).update(rawBody).digest("base64");

  it("uses X-Shopify-Webhook-Id as nonce when present, and none otherwise", () => {
    const secrets = [secret("s", value)];
    expect(verify({ headers: { "X-Shopify-Hmac-Sha256": hmac, "X-Shopify-Webhook-Id": "w-1" }, rawBody, secrets, now })).toEqual({
      ok: true,
      secretId: "s",
      nonce: "w-1",
    });
    expect(verify({ headers: { "X-Shopify-Hmac-Sha256": hmac }, rawBody, secrets, now })).toEqual({ ok: true, secretId: "s" });
  });

  it.each([
    ["hex instead of base64", createHmac("sha256", value).update(rawBody).digest("hex")],
    ["base64url", createHmac("sha256", value).update(rawBody).digest("base64url")],
    ["truncated", hmac.slice(0, 20)],
  ])("rejects %s as malformed", (_label, header) => {
    expect(verify({ headers: { "X-Shopify-Hmac-Sha256": header }, rawBody, secrets: [secret("s", value)], now })).toEqual({ ok: false, reason: "malformed" });
  });
});

describe("standard-webhooks", () => {
  const verify = verifierPresets["standard-webhooks"];
  const value = generateSigningSecret();
  const signed = (id = "msg_1") => ({
    "webhook-id": id,
    "webhook-timestamp": String(T),
    "webhook-signature": new Webhook(value).sign(id, now, body),
  });

  it("uses webhook-id as nonce and finds its signature among several", () => {
    const headers = signed();
    const other = new Webhook(generateSigningSecret()).sign("msg_1", now, body);
    const listed = { ...headers, "webhook-signature": `${other} v1a,c2lnbmF0dXJl ${headers["webhook-signature"]}` };
    expect(verify({ headers: listed, rawBody, secrets: [secret("s", value)], now })).toEqual({ ok: true, secretId: "s", signedAt: now, nonce: "msg_1" });
  });

  it("rejects a changed webhook-id and malformed headers", () => {
    const headers = signed();
    const secrets = [secret("s", value)];
    expect(verify({ headers: { ...headers, "webhook-id": "msg_2" }, rawBody, secrets, now })).toEqual({ ok: false, reason: "signature_mismatch" });
    expect(verify({ headers: { ...headers, "webhook-timestamp": "soon" }, rawBody, secrets, now })).toEqual({ ok: false, reason: "malformed" });
    expect(verify({ headers: { ...headers, "webhook-signature": "v1a,c2lnbmF0dXJl" }, rawBody, secrets, now })).toEqual({ ok: false, reason: "malformed" });
    const { "webhook-id": _id, ...withoutId } = headers;
    expect(verify({ headers: withoutId, rawBody, secrets, now })).toEqual({ ok: false, reason: "missing_header" });
  });

  it("throws on a configured secret that is not whsec_, rather than failing quietly", () => {
    expect(() => verify({ headers: signed(), rawBody, secrets: [secret("s", "plain-text")], now })).toThrow(InvalidSigningSecretError);
  });

  /** The same signature under Svix's names, as Svix-powered senders (Clerk, Resend…) send it. */
  const svixSigned = (id = "msg_1") => {
    const headers = signed(id);
    return { "svix-id": headers["webhook-id"], "svix-timestamp": headers["webhook-timestamp"], "svix-signature": headers["webhook-signature"] };
  };

  it("accepts Svix's svix-id, svix-timestamp and svix-signature, with svix-id as nonce", () => {
    expect(verify({ headers: svixSigned(), rawBody, secrets: [secret("s", value)], now })).toEqual({ ok: true, secretId: "s", signedAt: now, nonce: "msg_1" });
  });

  it("checks svix-* headers as strictly as webhook-* ones, and never mixes the two", () => {
    const secrets = [secret("s", value)];
    const headers = svixSigned();
    expect(verify({ headers: { ...headers, "svix-id": "msg_2" }, rawBody, secrets, now })).toEqual({ ok: false, reason: "signature_mismatch" });
    expect(verify({ headers, rawBody: bytes(`${body} `), secrets, now })).toEqual({ ok: false, reason: "signature_mismatch" });
    expect(verify({ headers: { ...headers, "svix-signature": new Webhook(generateSigningSecret()).sign("msg_1", now, body) }, rawBody, secrets, now })).toEqual({ ok: false, reason: "signature_mismatch" });
    expect(verify({ headers, rawBody, secrets, now: at(T + 301) })).toEqual({ ok: false, reason: "timestamp_out_of_tolerance" });
    const { "svix-signature": _signature, ...unsigned } = headers;
    expect(verify({ headers: unsigned, rawBody, secrets, now })).toEqual({ ok: false, reason: "missing_header" });
    // A webhook-* header present means the webhook-* family: a svix-* one does not fill its gaps.
    expect(verify({ headers: { ...headers, "webhook-id": "msg_1" }, rawBody, secrets, now })).toEqual({ ok: false, reason: "missing_header" });
    // Both families sent: the webhook-* one decides.
    expect(verify({ headers: { ...signed("msg_3"), ...headers }, rawBody, secrets, now })).toMatchObject({ ok: true, nonce: "msg_3" });
  });
});

describe("hookledger-v1", () => {
  const verify = verifierPresets["hookledger-v1"];
  const value = generateSigningSecret();
  const headers = { "Content-Type": "application/json", "X-Tenant": "acme" };
  const signature = signHookledgerV1({ timestamp: T, headers, signedHeaderNames: ["x-tenant"], body, secrets: [value] });

  it("verifies and rejects a change to a signed header", () => {
    const secrets = [secret("s", value)];
    expect(verify({ headers: { ...headers, "X-Hookledger-Signature": signature }, rawBody, secrets, now })).toMatchObject({ ok: true, signedAt: now });
    expect(verify({ headers: { ...headers, "X-Tenant": "other", "X-Hookledger-Signature": signature }, rawBody, secrets, now })).toEqual({
      ok: false,
      reason: "signature_mismatch",
    });
  });

  it("reports a signed header the request lacks as missing, and a bad header as malformed", () => {
    const secrets = [secret("s", value)];
    expect(verify({ headers: { "X-Hookledger-Signature": signature }, rawBody, secrets, now })).toEqual({ ok: false, reason: "missing_header" });
    expect(verify({ headers: { "X-Hookledger-Signature": `t=${T},v1=ab` }, rawBody, secrets, now })).toEqual({ ok: false, reason: "malformed" });
  });

  it("gives the same nonce whichever of two rotation signatures matches", () => {
    const next = generateSigningSecret();
    const both = signHookledgerV1({ timestamp: T, headers, signedHeaderNames: ["x-tenant"], body, secrets: [value, next] });
    const secrets = [secret("old", value), secret("new", next)];
    const first = verify({ headers: { ...headers, "X-Hookledger-Signature": both }, rawBody, secrets, now });
    const dropped = both.split(",").filter((_item, index) => index !== 2).join(",");
    const replay = verify({ headers: { ...headers, "X-Hookledger-Signature": dropped }, rawBody, secrets, now });
    expect(first).toMatchObject({ ok: true, secretId: "old" });
    expect(replay).toMatchObject({ ok: true, secretId: "new" });
    expect(first.ok && replay.ok && first.nonce === replay.nonce).toBe(true);
  });
});
