/**
 * Boots the real hookledger (API and/or worker) on a loopback port against a test database.
 */
import { startServices, type Running } from "../../src/boot.ts";
import { loadConfig, type Config } from "../../src/config.ts";
import { createLogger, type Logger } from "../../src/log.ts";
import type { TestDatabase } from "./database.ts";
import { generateKeyringSpec } from "../../src/crypto/keyring.ts";
import { createEgressClient } from "../../src/egress/client.ts";
import type { Resolver } from "../../src/egress/resolver.ts";
import { egressPolicyFromSettings } from "../../src/egress/settings.ts";

/**
 * Tests talk to 127.0.0.1 only — DNS queries included. Host names other than localhost fail as if they did not
 * exist (error class "dns"), so no test can make the service resolve, let alone reach, an outside address.
 */
export const loopbackOnlyResolver: Resolver = async (hostname) => {
  if (hostname === "localhost" || hostname.endsWith(".localhost")) return [{ address: "127.0.0.1", family: 4 }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND", hostname });
};

/* eslint-disable @typescript-eslint/no-explicit-any -- test helpers return parsed JSON bodies for assertions */

/** The instance admin token every test app is configured with (through a real env: secret reference). */
export const TEST_ADMIN_TOKEN = "hl_adm_test_instance_admin_token_0123456789abcdef";
process.env.HOOKLEDGER_TEST_ADMIN_TOKEN = TEST_ADMIN_TOKEN;
process.env.HOOKLEDGER_TEST_KEYRING ??= generateKeyringSpec();
process.env.HOOKLEDGER_TEST_METRICS_TOKEN ??= "metrics-scraper-token-0123456789";

export interface TestApp extends Running {
  config: Config;
  baseUrl: string;
  /** JSON request helper: `await app.call("POST", "/v1/applications", token, body)`. */
  call(method: string, path: string, token: string | undefined, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  /** fetch against the app: `app.fetch("/v1/events", { method: "POST", … })`. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

export async function startTestApp(
  db: Pick<TestDatabase, "name" | "ownerUrl" | "serviceUrl">,
  options: { env?: Record<string, string>; api?: boolean; worker?: boolean; now?: () => Date; resolver?: Resolver; log?: Logger } = {},
): Promise<TestApp> {
  const config = loadConfig({
    DATABASE_URL: db.ownerUrl,
    PORT: "0",
    HOOKLEDGER_HOST: "127.0.0.1",
    HOOKLEDGER_LOG_LEVEL: process.env.HOOKLEDGER_TEST_LOG_LEVEL ?? "silent",
    HOOKLEDGER_WORKER_POLL_INTERVAL_MS: "100",
    HOOKLEDGER_WORKER_CONCURRENCY: "4",
    HOOKLEDGER_SHUTDOWN_GRACE_MS: "2000",
    HOOKLEDGER_ADMIN_TOKEN: "env:HOOKLEDGER_TEST_ADMIN_TOKEN",
    HOOKLEDGER_ENCRYPTION_KEYS: "env:HOOKLEDGER_TEST_KEYRING",
    // Receivers in tests listen on loopback over plain HTTP; production defaults refuse both.
    HOOKLEDGER_EGRESS_ALLOW_LOOPBACK: "true",
    HOOKLEDGER_EGRESS_HTTPS_ONLY: "false",
    HOOKLEDGER_MIN_RETRY_DELAY_MS: "10",
    HOOKLEDGER_RETRY_JITTER_PERCENT: "0",
    // A test sends as fast as the machine allows, every request from 127.0.0.1: the default budgets (burst 200 per
    // address) made tests that walk many inputs fail with 429 on a fast run. Tests of the limits set their own.
    HOOKLEDGER_RATE_LIMIT_IP_RPS: "1000000",
    HOOKLEDGER_RATE_LIMIT_IP_BURST: "1000000",
    HOOKLEDGER_RATE_LIMIT_TOKEN_RPS: "1000000",
    HOOKLEDGER_RATE_LIMIT_TOKEN_BURST: "1000000",
    ...options.env,
  });
  const running = await startServices({
    egress: createEgressClient(egressPolicyFromSettings(config), { resolver: options.resolver ?? loopbackOnlyResolver }),
    config,
    log: options.log ?? createLogger(config.HOOKLEDGER_LOG_LEVEL),
    database: { ownerUrl: db.ownerUrl, serviceUrl: db.serviceUrl, description: db.name },
    api: options.api ?? true,
    worker: options.worker ?? false,
    now: options.now,
  });
  const baseUrl = `http://127.0.0.1:${running.server?.port ?? 0}`;
  return {
    ...running,
    config,
    baseUrl,
    fetch: (path, init) => fetch(`${baseUrl}${path}`, init),
    call: jsonCaller(baseUrl),
  };
}

/**
 * The JSON request helper of a test app, for any hookledger listening at `baseUrl` (a spawned process too). With
 * `timeoutMs`, a request not answered in time fails instead of waiting.
 */
export function jsonCaller(baseUrl: string, timeoutMs?: number): TestApp["call"] {
  return async (method, path, token, body, headers = {}) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...headers,
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      ...(timeoutMs !== undefined ? { signal: AbortSignal.timeout(timeoutMs) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  };
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Creates an organization and an admin-scoped organization token for it, through the API. */
export async function createTenant(app: Pick<TestApp, "call">, name = "Acme"): Promise<{ orgId: string; token: string; tokenId: string }> {
  const org = await app.call("POST", "/v1/organizations", TEST_ADMIN_TOKEN, { name });
  if (org.status !== 201) throw new Error(`create organization: ${org.status} ${JSON.stringify(org.body)}`);
  const token = await app.call("POST", `/v1/organizations/${org.body.id}/tokens`, TEST_ADMIN_TOKEN, { label: `${name} admin`, scopes: ["admin"] });
  if (token.status !== 201) throw new Error(`create token: ${token.status} ${JSON.stringify(token.body)}`);
  return { orgId: org.body.id, token: token.body.token, tokenId: token.body.id };
}
