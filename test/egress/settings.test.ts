import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { defaultEgressPolicy } from "../../src/egress/policy.ts";
import { egressPolicyFromSettings, egressSettings } from "../../src/egress/settings.ts";

/** The way the app's config schema will use the settings: spread into one object schema. */
const schema = v.object({ ...egressSettings });

function firstIssue(env: Record<string, string>): string {
  const result = v.safeParse(schema, env);
  if (result.success) return "";
  const issue = result.issues[0];
  return `${String(issue.path?.[0]?.key)}: ${issue.message}`;
}

describe("egress settings", () => {
  it("default to the documented policy", () => {
    expect(egressPolicyFromSettings(v.parse(schema, {}))).toEqual(defaultEgressPolicy);
  });

  it("parse rule lists, booleans and numbers", () => {
    const settings = v.parse(schema, {
      HOOKLEDGER_EGRESS_ALLOW: " 10.0.0.0/8, hooks.partner.example ,,",
      HOOKLEDGER_EGRESS_DENY: "*.internal.example,fd00::/8,169.254.169.254",
      HOOKLEDGER_EGRESS_HTTPS_ONLY: "no",
      HOOKLEDGER_EGRESS_FOLLOW_REDIRECTS: "TRUE",
      HOOKLEDGER_EGRESS_ALLOW_LOOPBACK: "1",
      HOOKLEDGER_EGRESS_CONNECT_TIMEOUT_MS: "2500",
      HOOKLEDGER_EGRESS_TIMEOUT_MS: " 30000 ",
      HOOKLEDGER_EGRESS_MAX_RESPONSE_BYTES: "0",
      HOOKLEDGER_EGRESS_MAX_HEADER_BYTES: "8192",
      HOOKLEDGER_EGRESS_MAX_SOCKETS_PER_DESTINATION: "32",
      HOOKLEDGER_EGRESS_MAX_IDLE_SOCKETS_PER_DESTINATION: "4",
      HOOKLEDGER_EGRESS_IDLE_SOCKET_TIMEOUT_MS: "0",
      HOOKLEDGER_EGRESS_MAX_POOLED_DESTINATIONS: "1000",
    });
    expect(egressPolicyFromSettings(settings)).toEqual({
      allow: ["10.0.0.0/8", "hooks.partner.example"],
      deny: ["*.internal.example", "fd00::/8", "169.254.169.254"],
      httpsOnly: false,
      followRedirects: true,
      allowLoopback: true,
      connectTimeoutMs: 2500,
      timeoutMs: 30000,
      maxResponseBytes: 0,
      maxHeaderBytes: 8192,
      connectionPool: { maxSocketsPerDestination: 32, maxIdleSocketsPerDestination: 4, idleTimeoutMs: 0, maxDestinations: 1000 },
    });
  });

  it.each([
    [{ HOOKLEDGER_EGRESS_DENY: "10.0.0.0/33" }, 'HOOKLEDGER_EGRESS_DENY: "10.0.0.0/33" is not a CIDR range (expected e.g. 10.0.0.0/8 or fc00::/7); expected comma-separated CIDRs, IP addresses, host names or *.domain wildcards'],
    [{ HOOKLEDGER_EGRESS_ALLOW: "ok.example, not a host" }, 'HOOKLEDGER_EGRESS_ALLOW: "not a host" is not a CIDR, IP address, host name or *.domain wildcard; expected comma-separated CIDRs, IP addresses, host names or *.domain wildcards'],
    [{ HOOKLEDGER_EGRESS_DENY: "0x7f.1" }, 'HOOKLEDGER_EGRESS_DENY: "0x7f.1" is not a CIDR, IP address, host name or *.domain wildcard; expected comma-separated CIDRs, IP addresses, host names or *.domain wildcards'],
    [{ HOOKLEDGER_EGRESS_DENY: "*." }, 'HOOKLEDGER_EGRESS_DENY: "*." is not a CIDR, IP address, host name or *.domain wildcard; expected comma-separated CIDRs, IP addresses, host names or *.domain wildcards'],
    [{ HOOKLEDGER_EGRESS_DENY: "https://x.example/" }, 'HOOKLEDGER_EGRESS_DENY: "https://x.example/" is not a CIDR range (expected e.g. 10.0.0.0/8 or fc00::/7); expected comma-separated CIDRs, IP addresses, host names or *.domain wildcards'],
    [{ HOOKLEDGER_EGRESS_HTTPS_ONLY: "maybe" }, "HOOKLEDGER_EGRESS_HTTPS_ONLY: expected true or false"],
    [{ HOOKLEDGER_EGRESS_TIMEOUT_MS: "15s" }, "HOOKLEDGER_EGRESS_TIMEOUT_MS: expected a whole number between 100 and 600000"],
    [{ HOOKLEDGER_EGRESS_CONNECT_TIMEOUT_MS: "0" }, "HOOKLEDGER_EGRESS_CONNECT_TIMEOUT_MS: expected a whole number between 100 and 120000"],
    [{ HOOKLEDGER_EGRESS_MAX_HEADER_BYTES: "999999999" }, "HOOKLEDGER_EGRESS_MAX_HEADER_BYTES: expected a whole number between 1024 and 1048576"],
    [{ HOOKLEDGER_EGRESS_MAX_SOCKETS_PER_DESTINATION: "0" }, "HOOKLEDGER_EGRESS_MAX_SOCKETS_PER_DESTINATION: expected a whole number between 1 and 1024"],
    [{ HOOKLEDGER_EGRESS_IDLE_SOCKET_TIMEOUT_MS: "5s" }, "HOOKLEDGER_EGRESS_IDLE_SOCKET_TIMEOUT_MS: expected a whole number between 0 and 60000"],
    [{ HOOKLEDGER_EGRESS_MAX_POOLED_DESTINATIONS: "0" }, "HOOKLEDGER_EGRESS_MAX_POOLED_DESTINATIONS: expected a whole number between 1 and 100000"],
  ])("refuse %j with a message naming the problem", (env, message) => {
    expect(firstIssue(env)).toBe(message);
  });
});
