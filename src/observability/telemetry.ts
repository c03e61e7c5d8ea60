/**
 * OpenTelemetry export, on only when an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT or a
 * signal-specific one). Off, this module answers a no-op without importing any @opentelemetry package: the SDK is
 * loaded by a dynamic import behind that check, so an unconfigured process pays neither its load time nor its
 * memory, and the hot paths see `tracing.enabled === false`.
 */
import type { Registry } from "prom-client";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { otelTargets } from "./otel/settings.ts";
import { redactedUrl } from "./redactedUrl.ts";
import { noTracing, type Tracing } from "./tracing.ts";

export interface Telemetry {
  readonly tracing: Tracing;
  /** Starts exporting the Prometheus registry's metrics over OTLP (a no-op unless metrics are exported). */
  exportMetrics(registry: Registry): void;
  /** Exports what is buffered now. */
  flush(): Promise<void>;
  /** Exports what is buffered and stops; call before the database pool closes (the queue-lag gauge reads it). */
  shutdown(): Promise<void>;
}

export const noTelemetry: Telemetry = {
  tracing: noTracing,
  exportMetrics: () => undefined,
  flush: async () => undefined,
  shutdown: async () => undefined,
};

/**
 * @example
 * const telemetry = await startTelemetry(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }), log);
 * telemetry.tracing.enabled; // true
 */
export async function startTelemetry(config: Config, log: Logger): Promise<Telemetry> {
  const targets = otelTargets(config);
  if (!targets.traces && !targets.metrics) return noTelemetry;
  const { startOpenTelemetry } = await import("./otel/sdk.ts");
  const telemetry = await startOpenTelemetry(config, log, targets);
  // Origin and path only, the path as auditors read endpoint URLs: an endpoint may carry credentials in its user
  // part, query or path (a collector's ingest key as a path segment).
  const where = (url: string | undefined) => (url === undefined ? null : redactedUrl(`${new URL(url).origin}${new URL(url).pathname}`));
  log.info("exporting OpenTelemetry", { traces: where(targets.traces?.url), metrics: where(targets.metrics?.url), protocol: targets.traces?.protocol ?? targets.metrics?.protocol });
  return telemetry;
}
