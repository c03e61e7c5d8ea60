/**
 * Each provider's signing, done the provider's way: with its official npm library where one exists, otherwise
 * with createHmac following its published algorithm. Never with the code under test, except hookledger-v1, whose
 * signer is checked against an independent known answer in test/crypto.
 */
import { createHmac } from "node:crypto";
import { sign as signGithub } from "@octokit/webhooks-methods";
import { Webhook } from "standardwebhooks";
import Stripe from "stripe";
import { signHookledgerV1 } from "../../src/crypto/hookledgerV1.ts";
import { generateSigningSecret } from "../../src/crypto/secrets.ts";
import type { GenericVerifierConfig } from "../../src/inbound/verifiers/genericConfig.ts";
import type { VerifierPreset, VerifierSecret } from "../../src/inbound/verifiers/presets.ts";

/** The signed timestamp most tests use: 2023-11-14T22:13:20Z. */
export const T = 1_700_000_000;
export const at = (seconds: number): Date => new Date(seconds * 1000);
export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
export const body = JSON.stringify({ id: "evt_1", type: "thing.happened", data: { n: 1 } });

export function secret(id: string, value: string, validFrom = at(0), validUntil?: Date): VerifierSecret {
  return validUntil === undefined ? { id, value, validFrom } : { id, value, validFrom, validUntil };
}

export interface SignRequest {
  secret: string;
  /** Unix seconds; ignored by schemes that sign no timestamp. */
  timestamp: number;
  body: string;
}

export interface PresetCase {
  preset: VerifierPreset;
  /** Whether the scheme signs a timestamp (secrets chosen at it, tolerance enforced). */
  timestamped: boolean;
  newSecret: () => string;
  sign: (request: SignRequest) => Promise<Record<string, string>>;
  genericConfig?: GenericVerifierConfig;
}

const randomText = (): string => `secret_${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
const stripeSecret = (): string => `whsec_${Math.random().toString(36).slice(2)}`;

export const stripeWebhooks = Stripe.webhooks;

export const presetCases: PresetCase[] = [
  {
    preset: "github",
    timestamped: false,
    newSecret: randomText,
    sign: async (r) => ({ "X-Hub-Signature-256": await signGithub(r.secret, r.body), "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958" }),
  },
  {
    preset: "stripe",
    timestamped: true,
    newSecret: stripeSecret,
    sign: async (r) => ({
      "Stripe-Signature": stripeWebhooks.generateTestHeaderString({ payload: r.body, secret: r.secret, timestamp: r.timestamp }),
    }),
  },
  {
    preset: "slack",
    timestamped: true,
    newSecret: randomText,
    sign: async (r) => ({
      "X-Slack-Request-Timestamp": String(r.timestamp),
      "X-Slack-Signature": `v0=${createHmac("sha256", r.secret).update(`v0:${r.timestamp}:${r.body}`).digest("hex")}`,
    }),
  },
  {
    preset: "shopify",
    timestamped: false,
    newSecret: randomText,
    sign: async (r) => ({
      "X-Shopify-Hmac-Sha256": createHmac("sha256", r.secret).update(r.body, "utf8").digest("base64"),
      "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    }),
  },
  {
    preset: "standard-webhooks",
    timestamped: true,
    newSecret: generateSigningSecret,
    sign: async (r) => ({
      "webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
      "webhook-timestamp": String(r.timestamp),
      "webhook-signature": new Webhook(r.secret).sign("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", at(r.timestamp), r.body),
    }),
  },
  {
    preset: "hookledger-v1",
    timestamped: true,
    newSecret: generateSigningSecret,
    sign: async (r) => {
      const headers = { "Content-Type": "application/json", "X-Hookledger-Event": "thing.happened" };
      const signature = signHookledgerV1({
        timestamp: r.timestamp,
        headers,
        signedHeaderNames: ["x-hookledger-event", "content-type"],
        body: r.body,
        secrets: [r.secret],
      });
      return { ...headers, "X-Hookledger-Signature": signature };
    },
  },
  {
    preset: "generic",
    timestamped: false,
    newSecret: randomText,
    genericConfig: { header: "x-signature", algorithm: "sha256", encoding: "hex", prefix: "sha256=", signedPayload: "body" },
    sign: async (r) => ({ "X-Signature": `sha256=${createHmac("sha256", r.secret).update(r.body).digest("hex")}` }),
  },
  {
    preset: "generic",
    timestamped: true,
    newSecret: randomText,
    genericConfig: {
      header: "x-signature",
      algorithm: "sha512",
      encoding: "base64",
      signedPayload: "timestamp.body",
      timestampHeader: "x-timestamp",
    },
    sign: async (r) => ({
      "X-Timestamp": String(r.timestamp),
      "X-Signature": createHmac("sha512", r.secret).update(`${r.timestamp}.${r.body}`).digest("base64"),
    }),
  },
];
