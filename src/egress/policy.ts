/**
 * The egress policy and its two pure checks: `checkUrl` (what can be decided from the URL alone) and
 * `checkAddress` (one resolved or literal address). The client runs both on every hop; the order inside them is
 * the documented one: operator deny rules, then operator allow rules, then the built-in default-deny table.
 */
import { parseIPAddress, parseTargetUrl } from "./normalise.ts";
import type { ConnectionPoolLimits } from "./pool.ts";
import { findDefaultDenial, isPlainLoopback } from "./ranges.ts";
import { compileOperatorRules, ruleMatchesAddress, ruleMatchesHost, type OperatorRule } from "./rules.ts";

export interface EgressPolicy {
  /** CIDRs, addresses, host names and `*.domain` wildcards; when non-empty, every target must match one. */
  allow: string[];
  /** Same forms as `allow`; evaluated first, so a deny always beats an allow. */
  deny: string[];
  httpsOnly: boolean;
  /** Follow up to 5 redirects, re-checking every hop; off by default so a 3xx is returned as the response. */
  followRedirects: boolean;
  /** Development and tests only: unlocks 127.0.0.0/8 and ::1, nothing else. */
  allowLoopback: boolean;
  connectTimeoutMs: number;
  timeoutMs: number;
  maxResponseBytes: number;
  maxHeaderBytes: number;
  /** Keep-alive limits (pool.ts); a connection is only reused for a request whose check produced its address. */
  connectionPool: ConnectionPoolLimits;
}

export type PolicyDecision = { ok: true } | { ok: false; rule: string; detail: string };

/** The defaults `egressSettings` documents, for callers that build a policy in code. */
export const defaultEgressPolicy: Readonly<EgressPolicy> = Object.freeze({
  allow: [],
  deny: [],
  httpsOnly: true,
  followRedirects: false,
  allowLoopback: false,
  connectTimeoutMs: 5_000,
  timeoutMs: 15_000,
  maxResponseBytes: 65_536,
  maxHeaderBytes: 16_384,
  connectionPool: Object.freeze({
    // Not the concurrency limit (each subscription's max_concurrency is): many subscriptions often share one
    // destination (a receiving service that hosts many endpoints), and with 16 here two hanging endpoints' requests
    // held every connection to their host, so healthy subscriptions on it sent nothing until the hanging ones
    // timed out (bench scenario 4: seconds without a healthy delivery). Kept idle: enough for the next burst to
    // find the last one's connections, since a destination often serves many endpoints at once; the idle timeout
    // closes them. With 16, ten subscriptions on one receiver host (100 requests in flight) reopened most of their
    // connections every burst: bench scenario 3, one worker, 2,814–2,957 deliveries/s with 16 and 3,578–3,602 with
    // 128 (back-to-back runs).
    maxSocketsPerDestination: 256,
    maxIdleSocketsPerDestination: 128,
    idleTimeoutMs: 4_000,
    maxDestinations: 128,
  }),
});

interface CompiledRules {
  allow: OperatorRule[];
  deny: OperatorRule[];
}

/** Policies are plain data and may be rebuilt per request; parsing a handful of rules is cheaper than caching. */
function compileRules(policy: EgressPolicy): CompiledRules {
  return { allow: compileOperatorRules(policy.allow), deny: compileOperatorRules(policy.deny) };
}

/**
 * Decides whether one address may be contacted. `hostname` (when the address came from resolving a name) lets
 * host rules apply too. An allow rule that matches the *address* also lifts the default denial (an operator
 * may allow 10.0.0.0/8); an allow rule that matches only the *name* does not, so allowing `hooks.partner.example`
 * never lets a hijacked DNS answer point it at 169.254.169.254.
 *
 * @example
 * checkAddress("10.0.0.5", defaultEgressPolicy);
 * // { ok: false, rule: "default:private", detail: "10.0.0.5 is in a private range (10.0.0.0/8)" }
 * checkAddress("10.0.0.5", { ...defaultEgressPolicy, allow: ["10.0.0.0/8"] }); // { ok: true }
 * @throws EgressRuleError when the policy holds a rule that cannot be parsed.
 */
export function checkAddress(address: string, policy: EgressPolicy, hostname?: string): PolicyDecision {
  const parsed = parseIPAddress(address);
  if (!parsed) return { ok: false, rule: "address", detail: `${JSON.stringify(address)} is not an IP address` };
  const rules = compileRules(policy);
  const shown = parsed.toString();
  const subject = hostname === undefined || hostname === shown ? shown : `${hostname} (${shown})`;

  const denied = rules.deny.find((rule) => ruleMatchesHost(rule, hostname) || ruleMatchesAddress(rule, parsed));
  if (denied) return { ok: false, rule: "operator:deny", detail: `${subject} matches deny rule ${denied.text}` };

  if (rules.allow.length > 0) {
    const byAddress = rules.allow.find((rule) => ruleMatchesAddress(rule, parsed));
    if (byAddress) return { ok: true };
    if (!rules.allow.some((rule) => ruleMatchesHost(rule, hostname))) {
      return { ok: false, rule: "operator:allow", detail: `${subject} matches no allow rule` };
    }
  }

  if (policy.allowLoopback && isPlainLoopback(parsed)) return { ok: true };
  const denial = findDefaultDenial(parsed);
  if (denial) return { ok: false, rule: denial.rule, detail: subject === shown ? denial.detail : `${hostname}: ${denial.detail}` };
  return { ok: true };
}

/**
 * Everything that can be refused before any DNS query: URL shape, scheme, HTTPS-only, literal addresses
 * (including `localhost` names, which are loopback by definition) and operator host rules. A name that passes
 * still has to pass `checkAddress` for every address it resolves to.
 *
 * @example
 * checkUrl("http://127.1/", defaultEgressPolicy);
 * // { ok: false, rule: "https_only", detail: "http://127.0.0.1/ is not https" }
 * checkUrl("https://0x7f.1/", defaultEgressPolicy);
 * // { ok: false, rule: "default:loopback", detail: "127.0.0.1 is in the loopback range (127.0.0.0/8)" }
 * @throws EgressRuleError when the policy holds a rule that cannot be parsed.
 */
export function checkUrl(url: string, policy: EgressPolicy): { ok: true; url: URL } | { ok: false; rule: string; detail: string } {
  const parsed = parseTargetUrl(url);
  if (!parsed.ok) return parsed;
  const { host } = parsed;
  if (policy.httpsOnly && parsed.url.protocol !== "https:") {
    return { ok: false, rule: "https_only", detail: `${parsed.url.href} is not https` };
  }

  if (host.kind === "ip") {
    const decision = checkAddress(host.hostname, policy);
    return decision.ok ? { ok: true, url: parsed.url } : decision;
  }
  if (host.kind === "loopback_name") {
    const decision = checkAddress("127.0.0.1", policy, host.hostname);
    return decision.ok ? { ok: true, url: parsed.url } : decision;
  }

  const rules = compileRules(policy);
  const denied = rules.deny.find((rule) => ruleMatchesHost(rule, host.hostname));
  if (denied) return { ok: false, rule: "operator:deny", detail: `${host.hostname} matches deny rule ${denied.text}` };
  // Without CIDR allow rules the name alone decides; with them, the resolved address may still match one.
  const mayMatchLater = rules.allow.some((rule) => rule.kind === "cidr");
  if (rules.allow.length > 0 && !mayMatchLater && !rules.allow.some((rule) => ruleMatchesHost(rule, host.hostname))) {
    return { ok: false, rule: "operator:allow", detail: `${host.hostname} matches no allow rule` };
  }
  return { ok: true, url: parsed.url };
}
