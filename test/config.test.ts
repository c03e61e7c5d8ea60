import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { bodyBytesPerClient, checkSentryDsn, ConfigError, loadConfig } from "../src/config.ts";

describe("configuration", () => {
  it("applies documented defaults", () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(8080);
    expect(config.HOOKLEDGER_HOST).toBe("127.0.0.1");
    expect(config.HOOKLEDGER_DATA_DIR).toBe(".hookledger");
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.HOOKLEDGER_LOG_LEVEL).toBe("info");
  });

  it("reads the public URL without its trailing slashes", () => {
    expect(loadConfig({}).HOOKLEDGER_PUBLIC_URL).toBeUndefined();
    expect(loadConfig({ HOOKLEDGER_PUBLIC_URL: " https://hooks.example.com/base// " }).HOOKLEDGER_PUBLIC_URL).toBe("https://hooks.example.com/base");
  });

  it("parses numbers and booleans", () => {
    const config = loadConfig({ PORT: " 9000 ", HOOKLEDGER_DEV_MODE: "yes", HOOKLEDGER_LOG_LEVEL: "DEBUG" });
    expect(config.PORT).toBe(9000);
    expect(config.HOOKLEDGER_DEV_MODE).toBe(true);
    expect(config.HOOKLEDGER_LOG_LEVEL).toBe("debug");
  });

  it.each<[Record<string, string>, string]>([
    [{ PORT: "abc" }, 'PORT: expected a whole number between 0 and 65535 (got "abc")'],
    [{ PORT: "70000" }, 'PORT: expected a whole number between 0 and 65535 (got "70000")'],
    [{ HOOKLEDGER_LOG_LEVEL: "loud" }, 'HOOKLEDGER_LOG_LEVEL: expected one of debug, info, warn, error, silent (got "loud")'],
    [{ HOOKLEDGER_DEV_MODE: "maybe" }, 'HOOKLEDGER_DEV_MODE: expected true or false (got "maybe")'],
    ...["hooks.example.com", "ftp://hooks.example.com", "https://user:pw@hooks.example.com", "https://hooks.example.com/?a=1", "https://hooks.example.com/#x"].map(
      (value): [Record<string, string>, string] => [{ HOOKLEDGER_PUBLIC_URL: value }, `HOOKLEDGER_PUBLIC_URL: expected an http(s) URL without credentials, query or fragment, such as https://hooks.example.com (got "${value}")`],
    ),
  ])("names the setting and the expected form for %j", (env, message) => {
    expect(() => loadConfig(env)).toThrow(new ConfigError(message));
  });

  it("bounds the request bodies in flight at 256 MiB, and at no less than the largest single body", () => {
    expect(loadConfig({}).HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT).toBe(256 * 1024 * 1024);
    expect(loadConfig({ HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT: "10485760" }).HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT).toBe(10485760);
    expect(() => loadConfig({ HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT: "8388608" })).toThrow(
      new ConfigError('HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT: expected at least 10485760, the largest single body (HOOKLEDGER_INGRESS_MAX_BODY_BYTES) (got "8388608")'),
    );
    // POST /v1/events takes 1.4 × HOOKLEDGER_MAX_EVENT_BYTES + 64 KiB (base64 payloads), 94017946 bytes at 64 MiB.
    expect(() => loadConfig({ HOOKLEDGER_MAX_EVENT_BYTES: String(64 * 1024 * 1024) })).not.toThrow();
    expect(() => loadConfig({ HOOKLEDGER_MAX_EVENT_BYTES: String(64 * 1024 * 1024), HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT: String(64 * 1024 * 1024) })).toThrow(
      new ConfigError('HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT: expected at least 94017946, the largest single body (POST /v1/events, from HOOKLEDGER_MAX_EVENT_BYTES) (got "67108864")'),
    );
    expect(() => loadConfig({ HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT: "1000" })).toThrow(/^HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT: expected a whole number between 1048576 and 1099511627776/);
  });

  it("gives one client a quarter of the bodies in flight by default, and never less than the largest single body", () => {
    expect(bodyBytesPerClient(loadConfig({}))).toBe(64 * 1024 * 1024);
    // A quarter of 20 MiB is less than the largest single body (10 MiB ingress): the body wins.
    expect(bodyBytesPerClient(loadConfig({ HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT: String(20 * 1024 * 1024) }))).toBe(10 * 1024 * 1024);
    expect(bodyBytesPerClient(loadConfig({ HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT: String(16 * 1024 * 1024) }))).toBe(16 * 1024 * 1024);
    expect(() => loadConfig({ HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT: "1048576" })).toThrow(
      new ConfigError('HOOKLEDGER_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT: expected 0 or at least 10485760, the largest single body (HOOKLEDGER_INGRESS_MAX_BODY_BYTES) (got "1048576")'),
    );
  });

  it("never echoes a database URL, which carries a password", () => {
    let message = "";
    try {
      loadConfig({ DATABASE_URL: "mysql://root:hunter2@db/x" });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe("DATABASE_URL: expected a URL of the form postgres://user:password@host:5432/database");
    expect(message).not.toContain("hunter2");
  });

  describe("HOOKLEDGER_SENTRY_DSN", () => {
    const refusal = "HOOKLEDGER_SENTRY_DSN: expected a Sentry DSN of the form https://<public key>@<host>/<project id>";
    const malformed = [
      "https://SENTRYKEY@notadsn",
      "https://SENTRYKEY@sentry.example.com/notanumber",
      "https://SENTRYKEY@sentry.example.com/42/",
      "https://sentry.example.com/42",
      "ftp://SENTRYKEY@sentry.example.com/42",
      "https://SENTRYKEY@sentry.example.com/42?x=1",
      "SENTRYKEY",
    ];

    it.each(malformed)("refuses the malformed raw DSN %j, naming the setting and never the value", (dsn) => {
      let message = "";
      try {
        loadConfig({ HOOKLEDGER_SENTRY_DSN: `raw:${dsn}` });
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        message = (error as Error).message;
      }
      expect(message).toBe(refusal);
      expect(message).not.toContain("SENTRYKEY");
    });

    it.each(malformed)("refuses %j once resolved from a reference, the same way", (dsn) => {
      expect(() => checkSentryDsn(dsn)).toThrow(new ConfigError(refusal));
    });

    it.each(["https://abc123@o1.ingest.sentry.io/42", "http://public:secret@127.0.0.1:9000/sentry/7", "https://k@[::1]:9000/1"])("accepts the well-formed DSN %j", (dsn) => {
      expect(loadConfig({ HOOKLEDGER_SENTRY_DSN: `raw:${dsn}` }).HOOKLEDGER_SENTRY_DSN).toBe(`raw:${dsn}`);
      expect(() => checkSentryDsn(dsn)).not.toThrow();
    });

    it("leaves a reference to be checked once resolved (its value is not known yet)", () => {
      expect(loadConfig({ HOOKLEDGER_SENTRY_DSN: "env:SENTRY_DSN" }).HOOKLEDGER_SENTRY_DSN).toBe("env:SENTRY_DSN");
    });

    it("stops start-up on a malformed one before the Sentry SDK can print it", () => {
      const result = spawnSync("node_modules/.bin/bun", ["src/main.ts"], {
        env: { ...process.env, HOOKLEDGER_DEV_MODE: "true", HOOKLEDGER_SENTRY_DSN: "raw:https://SENTRYKEY@notadsn", DATABASE_URL: "" },
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(result.status).toBe(2);
      expect(result.stderr).toBe(`hookledger: configuration error: ${refusal}\n`);
      expect(result.stdout).toBe("");
    });
  });

  it("stops start-up with one line and exit code 2, without a stack trace", () => {
    const result = spawnSync("node_modules/.bin/bun", ["src/main.ts"], {
      env: { ...process.env, PORT: "not-a-port", DATABASE_URL: "" },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe('hookledger: configuration error: PORT: expected a whole number between 0 and 65535 (got "not-a-port")\n');
    expect(result.stdout).toBe("");
  });

  it("lists the commands with --help", () => {
    const result = spawnSync("node_modules/.bin/bun", ["src/main.ts", "--help"], { encoding: "utf8", timeout: 30_000 });
    expect(result.status).toBe(0);
    for (const command of ["serve", "worker", "migrate", "rebuild-projection", "seal-subscription-headers", "reencrypt"]) expect(result.stdout).toContain(command);
  });

  it("refuses an unknown command", () => {
    const result = spawnSync("node_modules/.bin/bun", ["src/main.ts", "serv"], { encoding: "utf8", timeout: 30_000 });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('unknown command "serv"');
  });
});
