/**
 * The `HOOKLEDGER_EGRESS_*` settings, as valibot schemas keyed by environment variable, so the app's config
 * schema can spread them in (`v.object({ ...otherSettings, ...egressSettings })`) and `loadConfig` reports a
 * bad value the same way as every other setting: one line naming the setting and the form expected.
 */
import * as v from "valibot";
import { defaultEgressPolicy, type EgressPolicy } from "./policy.ts";
import { parseOperatorRule } from "./rules.ts";
import { flagSetting, wholeNumberSetting } from "../settingFields.ts";

const pool = defaultEgressPolicy.connectionPool;

function firstInvalidRule(rules: readonly string[]): string | undefined {
  for (const rule of rules) {
    const parsed = parseOperatorRule(rule);
    if (typeof parsed === "string") return parsed;
  }
  return undefined;
}

/** Comma-separated rules; a rule we cannot parse stops start-up rather than being skipped. */
const ruleList = v.pipe(
  v.optional(v.string(), ""),
  v.transform((raw) => raw.split(",").map((rule) => rule.trim()).filter((rule) => rule !== "")),
  v.check(
    (rules) => firstInvalidRule(rules) === undefined,
    (issue) => `${firstInvalidRule(issue.input) ?? "invalid rule"}; expected comma-separated CIDRs, IP addresses, host names or *.domain wildcards`,
  ),
);

/**
 * Egress settings with their defaults (see the README's egress table).
 *
 * @example
 * const schema = v.object({ PORT: v.optional(v.string()), ...egressSettings });
 * const config = v.parse(schema, { HOOKLEDGER_EGRESS_DENY: "*.internal.example, 10.20.0.0/16" });
 * config.HOOKLEDGER_EGRESS_DENY; // ["*.internal.example", "10.20.0.0/16"]
 */
export const egressSettings = {
  HOOKLEDGER_EGRESS_ALLOW: ruleList,
  HOOKLEDGER_EGRESS_DENY: ruleList,
  HOOKLEDGER_EGRESS_HTTPS_ONLY: flagSetting(defaultEgressPolicy.httpsOnly),
  HOOKLEDGER_EGRESS_FOLLOW_REDIRECTS: flagSetting(defaultEgressPolicy.followRedirects),
  HOOKLEDGER_EGRESS_ALLOW_LOOPBACK: flagSetting(defaultEgressPolicy.allowLoopback),
  HOOKLEDGER_EGRESS_CONNECT_TIMEOUT_MS: wholeNumberSetting(100, 120_000, defaultEgressPolicy.connectTimeoutMs),
  HOOKLEDGER_EGRESS_TIMEOUT_MS: wholeNumberSetting(100, 600_000, defaultEgressPolicy.timeoutMs),
  HOOKLEDGER_EGRESS_MAX_RESPONSE_BYTES: wholeNumberSetting(0, 16_777_216, defaultEgressPolicy.maxResponseBytes),
  HOOKLEDGER_EGRESS_MAX_HEADER_BYTES: wholeNumberSetting(1_024, 1_048_576, defaultEgressPolicy.maxHeaderBytes),
  HOOKLEDGER_EGRESS_MAX_SOCKETS_PER_DESTINATION: wholeNumberSetting(1, 1_024, pool.maxSocketsPerDestination),
  HOOKLEDGER_EGRESS_MAX_IDLE_SOCKETS_PER_DESTINATION: wholeNumberSetting(1, 1_024, pool.maxIdleSocketsPerDestination),
  HOOKLEDGER_EGRESS_IDLE_SOCKET_TIMEOUT_MS: wholeNumberSetting(0, 60_000, pool.idleTimeoutMs),
  HOOKLEDGER_EGRESS_MAX_POOLED_DESTINATIONS: wholeNumberSetting(1, 100_000, pool.maxDestinations),
};

export type EgressSettings = { [Name in keyof typeof egressSettings]: v.InferOutput<(typeof egressSettings)[Name]> };

/**
 * Builds the client's policy from parsed settings (any object that has them, such as the whole app config).
 *
 * @example
 * const policy = egressPolicyFromSettings(v.parse(v.object(egressSettings), { HOOKLEDGER_EGRESS_ALLOW_LOOPBACK: "true" }));
 * const egress = createEgressClient(policy);
 */
export function egressPolicyFromSettings(settings: EgressSettings): EgressPolicy {
  return {
    allow: [...settings.HOOKLEDGER_EGRESS_ALLOW],
    deny: [...settings.HOOKLEDGER_EGRESS_DENY],
    httpsOnly: settings.HOOKLEDGER_EGRESS_HTTPS_ONLY,
    followRedirects: settings.HOOKLEDGER_EGRESS_FOLLOW_REDIRECTS,
    allowLoopback: settings.HOOKLEDGER_EGRESS_ALLOW_LOOPBACK,
    connectTimeoutMs: settings.HOOKLEDGER_EGRESS_CONNECT_TIMEOUT_MS,
    timeoutMs: settings.HOOKLEDGER_EGRESS_TIMEOUT_MS,
    maxResponseBytes: settings.HOOKLEDGER_EGRESS_MAX_RESPONSE_BYTES,
    maxHeaderBytes: settings.HOOKLEDGER_EGRESS_MAX_HEADER_BYTES,
    connectionPool: {
      maxSocketsPerDestination: settings.HOOKLEDGER_EGRESS_MAX_SOCKETS_PER_DESTINATION,
      maxIdleSocketsPerDestination: settings.HOOKLEDGER_EGRESS_MAX_IDLE_SOCKETS_PER_DESTINATION,
      idleTimeoutMs: settings.HOOKLEDGER_EGRESS_IDLE_SOCKET_TIMEOUT_MS,
      maxDestinations: settings.HOOKLEDGER_EGRESS_MAX_POOLED_DESTINATIONS,
    },
  };
}
