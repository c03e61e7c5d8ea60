/**
 * The inbound verifier presets by name: what an ingress route's `verifier` setting selects.
 */
import { verifyGeneric } from "./generic.ts";
import { verifyGithub } from "./github.ts";
import { verifyHookledger } from "./hookledgerV1.ts";
import { verifyShopify } from "./shopify.ts";
import { verifySlack } from "./slack.ts";
import { verifyStandardWebhooks } from "./standardWebhooks.ts";
import { verifyStripe } from "./stripe.ts";
import type { Verifier } from "./types.ts";

/**
 * Every preset's verify function.
 *
 * @example
 * const verdict = verifierPresets[route.verifier]({ headers, rawBody, secrets, now: new Date(), genericConfig: route.genericConfig });
 * if (!verdict.ok) return c.body(null, 401);
 */
export const verifierPresets = {
  "github": verifyGithub,
  "stripe": verifyStripe,
  "slack": verifySlack,
  "shopify": verifyShopify,
  "standard-webhooks": verifyStandardWebhooks,
  "hookledger-v1": verifyHookledger,
  "generic": verifyGeneric,
} as const satisfies Record<string, Verifier>;

export type VerifierPreset = keyof typeof verifierPresets;

/** The preset names, for a `v.picklist` in route configuration. */
export const verifierPresetNames = Object.keys(verifierPresets) as VerifierPreset[];

/**
 * Whether a stored name is a known preset.
 *
 * @example
 * if (!isVerifierPreset(row.verifier)) throw new Error(`unknown verifier ${row.verifier}`);
 */
export function isVerifierPreset(name: string): name is VerifierPreset {
  return Object.hasOwn(verifierPresets, name);
}

export { genericVerifierConfigSchema, type GenericVerifierConfig } from "./genericConfig.ts";
export type { VerifierSecret, VerifyFailure, VerifyInput, VerifyResult, VerifySuccess, Verifier } from "./types.ts";
export { DEFAULT_TOLERANCE_SECONDS } from "./types.ts";
