/**
 * Every setting hookledger reads, in one valibot schema.
 *
 * Settings come from the environment (`HOOKLEDGER_*`, plus the conventional `DATABASE_URL` and `PORT`). A bad
 * value stops start-up with one line that names the setting, what is wrong with the value and the form expected;
 * the value itself is echoed only for settings that are not secret.
 */
import * as v from "valibot";
import { SECRET_REF_PATTERN } from "./secretRef.ts";
import { egressSettings } from "./egress/settings.ts";

const integer = (name: string, min: number, max: number, fallback: number) =>
  v.pipe(
    v.optional(v.string(), String(fallback)),
    v.trim(),
    v.regex(/^\d+$/, `expected a whole number between ${min} and ${max}`),
    v.transform(Number),
    v.number(),
    v.minValue(min, `expected a whole number between ${min} and ${max}`),
    v.maxValue(max, `expected a whole number between ${min} and ${max}`),
    v.metadata({ name }),
  );

const boolean = (fallback: boolean) =>
  v.pipe(
    v.optional(v.string(), fallback ? "true" : "false"),
    v.trim(),
    v.toLowerCase(),
    v.picklist(["true", "false", "1", "0", "yes", "no", "on", "off"], "expected true or false"),
    v.transform((raw) => ["true", "1", "yes", "on"].includes(raw)),
  );

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

const logLevels = ["debug", "info", "warn", "error", "silent"] as const;

/** The environment variables we read, with their defaults, as the README documents them. */
export const configSchema = v.object({
  DATABASE_URL: v.optional(postgresUrl),
  HOOKLEDGER_SERVICE_DATABASE_URL: v.optional(postgresUrl),
  PORT: integer("PORT", 0, 65535, 8080),
  HOOKLEDGER_HOST: v.pipe(
    v.optional(v.string(), "127.0.0.1"),
    v.trim(),
    v.regex(/^[0-9A-Za-z.:-]+$/, "expected an interface address such as 127.0.0.1, 0.0.0.0 or ::"),
  ),
  HOOKLEDGER_DATA_DIR: v.pipe(v.optional(v.string(), ".hookledger"), v.trim(), v.minLength(1, "expected a folder path")),
  HOOKLEDGER_EMBEDDED_PG_PORT: integer("HOOKLEDGER_EMBEDDED_PG_PORT", 1024, 65535, 54320),
  HOOKLEDGER_DB_POOL_SIZE: integer("HOOKLEDGER_DB_POOL_SIZE", 1, 500, 10),
  HOOKLEDGER_WORKER_CONCURRENCY: integer("HOOKLEDGER_WORKER_CONCURRENCY", 1, 1000, 16),
  HOOKLEDGER_WORKER_POLL_INTERVAL_MS: integer("HOOKLEDGER_WORKER_POLL_INTERVAL_MS", 50, 60000, 1000),
  HOOKLEDGER_WORKER_HEARTBEAT_MS: integer("HOOKLEDGER_WORKER_HEARTBEAT_MS", 50, 600000, 10000),
  HOOKLEDGER_WORKER_DEAD_AFTER_MS: integer("HOOKLEDGER_WORKER_DEAD_AFTER_MS", 100, 3600000, 60000),
  HOOKLEDGER_LEDGER_PARTITIONS_AHEAD: integer("HOOKLEDGER_LEDGER_PARTITIONS_AHEAD", 1, 36, 3),
  HOOKLEDGER_SHUTDOWN_GRACE_MS: integer("HOOKLEDGER_SHUTDOWN_GRACE_MS", 0, 600000, 10000),
  HOOKLEDGER_LOG_LEVEL: v.pipe(
    v.optional(v.string(), "info"),
    v.trim(),
    v.toLowerCase(),
    v.picklist(logLevels, `expected one of ${logLevels.join(", ")}`),
  ),
  HOOKLEDGER_DEV_MODE: boolean(false),
  HOOKLEDGER_ADMIN_TOKEN: v.optional(
    v.pipe(v.string(), v.trim(), v.regex(SECRET_REF_PATTERN, "expected a secret reference: env:NAME, file:/path or raw:value (development only)")),
  ),
  HOOKLEDGER_REQUIRE_AUDIT_REASON: boolean(false),
  HOOKLEDGER_TRUST_PROXY: boolean(false),
  HOOKLEDGER_HSTS: boolean(false),
  HOOKLEDGER_MAX_BODY_BYTES: integer("HOOKLEDGER_MAX_BODY_BYTES", 1024, 64 * 1024 * 1024, 1024 * 1024),
  HOOKLEDGER_REQUEST_TIMEOUT_MS: integer("HOOKLEDGER_REQUEST_TIMEOUT_MS", 100, 600000, 30000),
  HOOKLEDGER_RATE_LIMIT_TOKEN_RPS: integer("HOOKLEDGER_RATE_LIMIT_TOKEN_RPS", 1, 1000000, 200),
  HOOKLEDGER_RATE_LIMIT_TOKEN_BURST: integer("HOOKLEDGER_RATE_LIMIT_TOKEN_BURST", 1, 1000000, 400),
  HOOKLEDGER_RATE_LIMIT_IP_RPS: integer("HOOKLEDGER_RATE_LIMIT_IP_RPS", 1, 1000000, 100),
  HOOKLEDGER_RATE_LIMIT_IP_BURST: integer("HOOKLEDGER_RATE_LIMIT_IP_BURST", 1, 1000000, 200),

  HOOKLEDGER_ENCRYPTION_KEYS: v.optional(
    v.pipe(v.string(), v.trim(), v.regex(SECRET_REF_PATTERN, "expected a secret reference (env:NAME or file:/path) to a keyring kid:base64key[,kid:base64key…]")),
  ),
  HOOKLEDGER_MAX_EVENT_BYTES: integer("HOOKLEDGER_MAX_EVENT_BYTES", 1024, 64 * 1024 * 1024, 512 * 1024),
  HOOKLEDGER_RETRY_SCHEDULE: v.pipe(
    v.optional(v.string(), "3,10,180,1800,3600,10800,18000,36000"),
    v.regex(/^\s*\d+(\.\d+)?(\s*,\s*\d+(\.\d+)?)*\s*$/, "expected comma-separated delays in seconds, e.g. 3,10,180"),
    v.transform((raw) => raw.split(",").map((part) => Number(part.trim()))),
  ),
  HOOKLEDGER_MAX_ATTEMPTS: integer("HOOKLEDGER_MAX_ATTEMPTS", 1, 100, 25),
  HOOKLEDGER_MIN_RETRY_DELAY_MS: integer("HOOKLEDGER_MIN_RETRY_DELAY_MS", 0, 3600000, 1000),
  HOOKLEDGER_RETRY_JITTER_PERCENT: integer("HOOKLEDGER_RETRY_JITTER_PERCENT", 0, 100, 10),
  HOOKLEDGER_RETRY_AFTER_MAX_SECONDS: integer("HOOKLEDGER_RETRY_AFTER_MAX_SECONDS", 0, 86400, 3600),
  HOOKLEDGER_DELIVERY_TIMEOUT_MS: integer("HOOKLEDGER_DELIVERY_TIMEOUT_MS", 100, 600000, 15000),
  HOOKLEDGER_RESPONSE_EXCERPT_BYTES: integer("HOOKLEDGER_RESPONSE_EXCERPT_BYTES", 0, 1048576, 4096),
  HOOKLEDGER_AUTO_DISABLE_FAILURES: integer("HOOKLEDGER_AUTO_DISABLE_FAILURES", 0, 1000000, 50),
  HOOKLEDGER_AUTO_DISABLE_PERIOD_SECONDS: integer("HOOKLEDGER_AUTO_DISABLE_PERIOD_SECONDS", 0, 365 * 86400, 5 * 86400),
  ...egressSettings,
});

export type Config = v.InferOutput<typeof configSchema>;

/** Settings whose value must never be echoed back, even when it is wrong. */
const secretSettings = new Set(["DATABASE_URL", "HOOKLEDGER_SERVICE_DATABASE_URL", "HOOKLEDGER_ADMIN_TOKEN", "HOOKLEDGER_ENCRYPTION_KEYS"]);

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
  if (result.success) return result.output;
  const issue = result.issues[0];
  const key = issue.path?.[0]?.key;
  const setting = typeof key === "string" ? key : "configuration";
  const shown = secretSettings.has(setting) ? "" : ` (got ${JSON.stringify(input[setting])})`;
  throw new ConfigError(`${setting}: ${issue.message}${shown}`);
}
