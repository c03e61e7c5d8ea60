/**
 * Boots the real hookledger (API and/or worker) on a loopback port against a test database.
 */
import { startServices, type Running } from "../../src/boot.ts";
import { loadConfig, type Config } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import type { TestDatabase } from "./database.ts";

export interface TestApp extends Running {
  config: Config;
  baseUrl: string;
  /** fetch against the app: `app.fetch("/v1/events", { method: "POST", … })`. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

export async function startTestApp(
  db: TestDatabase,
  options: { env?: Record<string, string>; api?: boolean; worker?: boolean; now?: () => Date } = {},
): Promise<TestApp> {
  const config = loadConfig({
    DATABASE_URL: db.ownerUrl,
    PORT: "0",
    HOOKLEDGER_HOST: "127.0.0.1",
    HOOKLEDGER_LOG_LEVEL: process.env.HOOKLEDGER_TEST_LOG_LEVEL ?? "silent",
    HOOKLEDGER_WORKER_POLL_INTERVAL_MS: "100",
    HOOKLEDGER_WORKER_CONCURRENCY: "4",
    HOOKLEDGER_SHUTDOWN_GRACE_MS: "2000",
    ...options.env,
  });
  const running = await startServices({
    config,
    log: createLogger(config.HOOKLEDGER_LOG_LEVEL),
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
