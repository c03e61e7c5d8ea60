/**
 * Every setting hookledger reads, in one valibot schema.
 *
 * Settings come from the environment (`HOOKLEDGER_*`, plus the conventional `DATABASE_URL` and `PORT`). A bad
 * value stops start-up with one line that names the setting, what is wrong with the value and the form expected;
 * the value itself is echoed only for settings that are not secret.
 */
import * as v from "valibot";
import { SECRET_REF_FORMS, SECRET_REF_PATTERN } from "./secrets/references.ts";
import { tenantReferenceSettings } from "./secrets/tenantReferences.ts";
import { vaultSettings } from "./secrets/vaultSettings.ts";
import { egressSettings } from "./egress/settings.ts";
import { otelSecretSettings, otelSettings } from "./observability/otel/settings.ts";
import { flagSetting, proxyHopsSetting, wholeNumberSetting } from "./settingFields.ts";
import { listenerPlans, listenerSettings } from "./http/listenerSettings.ts";
import { AUDIT_ACTOR_PATTERN } from "./ledger/entryMeta.ts";
import { eventRequestBodyBytes } from "./outbound/eventBodyBytes.ts";

const postgresUrl = v.pipe(
  v.string(),
  v.trim(),
  v.check((raw) => {
    try {
      const url = new URL(raw);
      return (url.protocol === "postgres:" || url.protocol === "postgresql:") && url.hostname !== "";
    } catch {
      return false;
    }
  }, "expected a URL of the form postgres://user:password@host:5432/database"),
);

/**
 * A setting holding a secret reference (see secrets/references.ts), never the secret itself. With `form`, a `raw:`
 * value (the only one known before start-up resolves references) must also pass it.
 */
const secretReferenceSetting = (to: string, form?: { test: (value: string) => boolean; message: string }) =>
  v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.regex(SECRET_REF_PATTERN, `expected a secret reference${to}: ${SECRET_REF_FORMS}`),
      v.check((reference) => !form || !reference.startsWith("raw:") || form.test(reference.slice("raw:".length)), form?.message ?? ""),
    ),
  );

/**
 * A Sentry DSN in the form the Sentry SDK accepts: `https://<public key>@<host>[:port]/[path/]<project id>`.
 * Why here: handed a malformed DSN, the SDK prints it whole to the process output (where logs are collected) and
 * start-up goes on without error reporting; the value is a secret setting's. A `raw:` DSN is checked with the other
 * settings, one behind env:, file: or vault: as soon as start-up has resolved it (`checkSentryDsn`, boot.ts), so the
 * SDK is only ever handed a well-formed DSN.
 */
const SENTRY_DSN_PATTERN = /^https?:\/\/\w+(?::\w*)?@(?:\[[:.%\w]+\]|[\w.-]+)(?::\d{1,5})?\/(?:[^/?#\s]+\/)*\d+$/;
const sentryDsnForm = {
  test: (dsn: string) => SENTRY_DSN_PATTERN.test(dsn),
  message: "expected a Sentry DSN of the form https://<public key>@<host>/<project id>",
};

/**
 * Refuses a malformed Sentry DSN resolved from HOOKLEDGER_SENTRY_DSN, naming the setting and never the value.
 *
 * @example
 * checkSentryDsn("https://abc123@o1.ingest.sentry.io/42"); // passes
 * @throws ConfigError
 */
export function checkSentryDsn(dsn: string): void {
  if (!sentryDsnForm.test(dsn)) throw new ConfigError(`HOOKLEDGER_SENTRY_DSN: ${sentryDsnForm.message}`);
}

/** Comma-separated actor names (or prefixes), each as X-Audit-Actor may carry it. */
const actorList = (message: string) =>
  v.pipe(
    v.optional(v.string(), ""),
    v.transform((raw) => raw.split(",").map((name) => name.trim()).filter((name) => name !== "")),
    v.check((names) => names.every((name) => AUDIT_ACTOR_PATTERN.test(name)), `${message} (printable ASCII, at most 128 characters each)`),
  );

/**
 * Where clients reach this service (`https://hooks.example.com`, or with a path prefix a proxy adds): the base of
 * the links it hands out. Without it a link is built from the request's own `Host`, which the client chooses.
 */
const publicUrlSetting = v.pipe(
  v.string(),
  v.trim(),
  v.check((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === "https:" || url.protocol === "http:") && url.username === "" && url.password === "" && url.search === "" && url.hash === "";
    } catch {
      return false;
    }
  }, "expected an http(s) URL without credentials, query or fragment, such as https://hooks.example.com"),
  v.transform((value) => value.replace(/\/+$/, "")),
);

const logLevels = ["debug", "info", "warn", "error", "silent"] as const;

/** The environment variables we read, with their defaults, as the README documents them. */
export const configSchema = v.object({
  DATABASE_URL: v.optional(postgresUrl),
  HOOKLEDGER_SERVICE_DATABASE_URL: v.optional(postgresUrl),
  PORT: wholeNumberSetting(0, 65535, 8080),
  HOOKLEDGER_HOST: v.pipe(
    v.optional(v.string(), "127.0.0.1"),
    v.trim(),
    v.regex(/^[0-9A-Za-z.:-]+$/, "expected an interface address such as 127.0.0.1, 0.0.0.0 or ::"),
  ),
  HOOKLEDGER_DATA_DIR: v.pipe(v.optional(v.string(), ".hookledger"), v.trim(), v.minLength(1, "expected a folder path")),
  HOOKLEDGER_EMBEDDED_PG_PORT: wholeNumberSetting(1024, 65535, 54320),
  HOOKLEDGER_DB_POOL_SIZE: wholeNumberSetting(1, 500, 10),
  HOOKLEDGER_WORKER_CONCURRENCY: wholeNumberSetting(1, 1000, 16),
  HOOKLEDGER_WORKER_POLL_INTERVAL_MS: wholeNumberSetting(50, 60000, 1000),
  HOOKLEDGER_WORKER_HEARTBEAT_MS: wholeNumberSetting(50, 600000, 10000),
  HOOKLEDGER_WORKER_DEAD_AFTER_MS: wholeNumberSetting(100, 3600000, 60000),
  HOOKLEDGER_RETENTION_DAYS: wholeNumberSetting(1, 3650, 90),
  HOOKLEDGER_QUOTA_EVENTS_PER_DAY: wholeNumberSetting(1, 1_000_000_000, 1_000_000),
  HOOKLEDGER_QUOTA_APPLICATIONS: wholeNumberSetting(1, 1_000_000, 1000),
  HOOKLEDGER_QUOTA_SUBSCRIPTIONS_PER_APPLICATION: wholeNumberSetting(1, 1_000_000, 1000),
  HOOKLEDGER_QUOTA_INGRESS_ROUTES: wholeNumberSetting(1, 1_000_000, 100),
  HOOKLEDGER_CONSOLE_SESSION_MINUTES: wholeNumberSetting(5, 1440, 480),
  HOOKLEDGER_PORTAL_SESSION_MINUTES: wholeNumberSetting(5, 1440, 60),
  HOOKLEDGER_PORTAL_LINK_SECONDS: wholeNumberSetting(30, 86400, 600),
  HOOKLEDGER_LEDGER_PARTITIONS_AHEAD: wholeNumberSetting(1, 36, 3),
  HOOKLEDGER_SHUTDOWN_GRACE_MS: wholeNumberSetting(0, 600000, 10000),
  HOOKLEDGER_LOG_LEVEL: v.pipe(
    v.optional(v.string(), "info"),
    v.trim(),
    v.toLowerCase(),
    v.picklist(logLevels, `expected one of ${logLevels.join(", ")}`),
  ),
  HOOKLEDGER_DEV_MODE: flagSetting(false),
  HOOKLEDGER_ADMIN_TOKEN: secretReferenceSetting(""),
  HOOKLEDGER_METRICS_TOKEN: secretReferenceSetting(""),
  HOOKLEDGER_SENTRY_DSN: secretReferenceSetting(" to the DSN", sentryDsnForm),
  HOOKLEDGER_SENTRY_ENVIRONMENT: v.pipe(v.optional(v.string(), "production"), v.trim(), v.regex(/^[\w.-]{1,64}$/, "expected a short name such as production")),
  HOOKLEDGER_SENTRY_TRACES_SAMPLE_RATE: v.pipe(
    v.optional(v.string(), "0"),
    v.trim(),
    v.regex(/^(0(\.\d+)?|1(\.0+)?)$/, "expected a number from 0 to 1"),
    v.transform(Number),
  ),
  HOOKLEDGER_REQUIRE_AUDIT_REASON: flagSetting(false),
  HOOKLEDGER_PUBLISH_QUEUE_ROUTES: flagSetting(true),
  HOOKLEDGER_PUBLISH_OUTBOUND_ROUTES: flagSetting(true),
  HOOKLEDGER_PUBLISH_REQUIRE_ACTOR: flagSetting(false),
  HOOKLEDGER_PUBLISH_REQUIRE_REQUEST_ID: flagSetting(false),
  HOOKLEDGER_PUBLISH_ACTOR_ALLOW: actorList("expected comma-separated actor names"),
  HOOKLEDGER_PUBLISH_ACTOR_PREFIX: actorList("expected comma-separated actor prefixes such as deploy-"),
  HOOKLEDGER_PUBLISH_FAIL_CLOSED: flagSetting(true),
  HOOKLEDGER_TRUST_PROXY: proxyHopsSetting(),
  HOOKLEDGER_PUBLIC_URL: v.optional(publicUrlSetting),
  HOOKLEDGER_HSTS: flagSetting(false),
  HOOKLEDGER_MAX_BODY_BYTES: wholeNumberSetting(1024, 64 * 1024 * 1024, 1024 * 1024),
  // At least the largest single body as well (largestBodyBytes): checked once every setting is read.
  HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT: wholeNumberSetting(1024 * 1024, 1024 * 1024 * 1024 * 1024, 256 * 1024 * 1024),
  // 0: a quarter of HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT, at least the largest single body (bodyBytesPerClient).
  HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT: wholeNumberSetting(0, 1024 * 1024 * 1024 * 1024, 0),
  HOOKLEDGER_REQUEST_TIMEOUT_MS: wholeNumberSetting(100, 600000, 30000),
  HOOKLEDGER_RATE_LIMIT_TOKEN_RPS: wholeNumberSetting(1, 1000000, 200),
  HOOKLEDGER_RATE_LIMIT_TOKEN_BURST: wholeNumberSetting(1, 1000000, 400),
  HOOKLEDGER_RATE_LIMIT_IP_RPS: wholeNumberSetting(1, 1000000, 100),
  HOOKLEDGER_RATE_LIMIT_IP_BURST: wholeNumberSetting(1, 1000000, 200),

  HOOKLEDGER_ENCRYPTION_KEYS: secretReferenceSetting(" to a keyring kid:base64key[,kid:base64key…]"),
  HOOKLEDGER_MAX_EVENT_BYTES: wholeNumberSetting(1024, 64 * 1024 * 1024, 512 * 1024),
  HOOKLEDGER_SCHEMA_COMPILE_MS: wholeNumberSetting(100, 600_000, 1500),
  HOOKLEDGER_SCHEMA_MATCHING_MS: wholeNumberSetting(10, 60_000, 100),
  HOOKLEDGER_RETRY_SCHEDULE: v.pipe(
    v.optional(v.string(), "3,10,180,1800,3600,10800,18000,36000"),
    v.regex(/^\s*\d+(\.\d+)?(\s*,\s*\d+(\.\d+)?)*\s*$/, "expected comma-separated delays in seconds, e.g. 3,10,180"),
    v.transform((raw) => raw.split(",").map((part) => Number(part.trim()))),
  ),
  HOOKLEDGER_MAX_ATTEMPTS: wholeNumberSetting(1, 100, 25),
  HOOKLEDGER_MIN_RETRY_DELAY_MS: wholeNumberSetting(0, 3600000, 1000),
  HOOKLEDGER_RETRY_JITTER_PERCENT: wholeNumberSetting(0, 100, 10),
  HOOKLEDGER_RETRY_AFTER_MAX_SECONDS: wholeNumberSetting(0, 86400, 3600),
  HOOKLEDGER_DELIVERY_TIMEOUT_MS: wholeNumberSetting(100, 600000, 15000),
  HOOKLEDGER_RESPONSE_EXCERPT_BYTES: wholeNumberSetting(0, 1048576, 4096),
  HOOKLEDGER_AUTO_DISABLE_FAILURES: wholeNumberSetting(0, 1000000, 50),
  HOOKLEDGER_AUTO_DISABLE_PERIOD_SECONDS: wholeNumberSetting(0, 365 * 86400, 5 * 86400),
  HOOKLEDGER_ENDPOINT_CONCURRENCY: wholeNumberSetting(1, 1000, 10),
  HOOKLEDGER_CIRCUIT_FAILURES: wholeNumberSetting(0, 1000000, 5),
  HOOKLEDGER_CIRCUIT_COOLDOWN_SECONDS: wholeNumberSetting(1, 86400, 30),
  HOOKLEDGER_CIRCUIT_MAX_COOLDOWN_SECONDS: wholeNumberSetting(1, 86400, 600),
  HOOKLEDGER_INGRESS_MAX_BODY_BYTES: wholeNumberSetting(1024, 64 * 1024 * 1024, 10 * 1024 * 1024),
  ...egressSettings,
  ...listenerSettings,
  ...vaultSettings,
  ...tenantReferenceSettings,
  ...otelSettings,
});

export type Config = v.InferOutput<typeof configSchema>;

/**
 * The largest body one request may carry, and where: the budget of bodies in flight must hold at least one such,
 * or that request could never be served.
 */
export function largestBodyBytes(config: Pick<Config, "HOOKLEDGER_MAX_BODY_BYTES" | "HOOKLEDGER_INGRESS_MAX_BODY_BYTES" | "HOOKLEDGER_MAX_EVENT_BYTES">): { bytes: number; setting: string } {
  const limits = [
    { bytes: config.HOOKLEDGER_MAX_BODY_BYTES, setting: "HOOKLEDGER_MAX_BODY_BYTES" },
    { bytes: config.HOOKLEDGER_INGRESS_MAX_BODY_BYTES, setting: "HOOKLEDGER_INGRESS_MAX_BODY_BYTES" },
    { bytes: eventRequestBodyBytes(config.HOOKLEDGER_MAX_EVENT_BYTES), setting: "POST /v1/events, from HOOKLEDGER_MAX_EVENT_BYTES" },
  ];
  return limits.reduce((largest, limit) => (limit.bytes > largest.bytes ? limit : largest));
}

/**
 * The request-body bytes one client may hold in memory at once (src/http/bodyBudget.ts): the setting, or when it is
 * 0 a quarter of the process's budget, never less than the largest single body.
 */
export function bodyBytesPerClient(config: Pick<Config, "HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT" | "HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT" | "HOOKLEDGER_MAX_BODY_BYTES" | "HOOKLEDGER_INGRESS_MAX_BODY_BYTES" | "HOOKLEDGER_MAX_EVENT_BYTES">): number {
  if (config.HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT > 0) return config.HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT;
  return Math.max(largestBodyBytes(config).bytes, Math.floor(config.HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT / 4));
}

/** Settings whose value must never be echoed back, even when it is wrong. */
const secretSettings = new Set(["DATABASE_URL", "HOOKLEDGER_SERVICE_DATABASE_URL", "HOOKLEDGER_ADMIN_TOKEN", "HOOKLEDGER_ENCRYPTION_KEYS", "HOOKLEDGER_METRICS_TOKEN", "HOOKLEDGER_SENTRY_DSN", "HOOKLEDGER_VAULT_TOKEN", "HOOKLEDGER_TLS_KEY", "HOOKLEDGER_INGRESS_TLS_KEY", "HOOKLEDGER_PULL_TLS_KEY", "HOOKLEDGER_ADMIN_TLS_KEY", ...otelSecretSettings]);

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/**
 * Reads configuration from an environment map (normally `process.env`).
 *
 * @example
 * const config = loadConfig({ PORT: "9000" });
 * config.PORT; // 9000
 * @throws ConfigError with a single line naming the first bad setting.
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const known = Object.keys(configSchema.entries);
  const input: Record<string, string> = {};
  for (const key of known) {
    const raw = env[key];
    if (raw !== undefined && raw !== "") input[key] = raw;
  }
  const result = v.safeParse(configSchema, input);
  if (result.success) {
    const listeners = listenerPlans(result.output);
    if (typeof listeners === "string") throw new ConfigError(listeners);
    const largest = largestBodyBytes(result.output);
    if (result.output.HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT < largest.bytes) {
      const got = input.HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT ?? String(result.output.HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT);
      throw new ConfigError(`HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT: expected at least ${largest.bytes}, the largest single body (${largest.setting}) (got ${JSON.stringify(got)})`);
    }
    const perClient = result.output.HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT;
    if (perClient > 0 && perClient < largest.bytes) {
      throw new ConfigError(`HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT: expected 0 or at least ${largest.bytes}, the largest single body (${largest.setting}) (got ${JSON.stringify(input.HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT)})`);
    }
    return result.output;
  }
  const issue = result.issues[0];
  const key = issue.path?.[0]?.key;
  const setting = typeof key === "string" ? key : "configuration";
  const shown = secretSettings.has(setting) ? "" : ` (got ${JSON.stringify(input[setting])})`;
  throw new ConfigError(`${setting}: ${issue.message}${shown}`);
}
