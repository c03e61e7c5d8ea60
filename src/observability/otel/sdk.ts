/**
 * Starts OpenTelemetry export: traces through our own tracer provider (tracer.ts), metrics by reading the
 * Prometheus registry at every export interval (prometheusBridge.ts). Imported dynamically by ../telemetry.ts,
 * and only when an OTLP endpoint is configured, so a process without one never loads an @opentelemetry module.
 */
import { diag, DiagLogLevel } from "@opentelemetry/api";
import { resourceFromAttributes, type Resource } from "@opentelemetry/resources";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from "@opentelemetry/sdk-metrics";
import type { Registry } from "prom-client";
import type { Config } from "../../config.ts";
import type { Logger } from "../../log.ts";
import { VERSION } from "../../version.ts";
import { noTracing } from "../tracing.ts";
import type { Telemetry } from "../telemetry.ts";
import { PrometheusBridge } from "./prometheusBridge.ts";
import { parseKeyValueList, type SignalTarget } from "./settings.ts";
import { createOtelTracing } from "./tracer.ts";

/** OTEL_RESOURCE_ATTRIBUTES, with OTEL_SERVICE_NAME taking precedence for service.name (as the specification says). */
function resourceOf(config: Config): Resource {
  const attributes = parseKeyValueList(config.OTEL_RESOURCE_ATTRIBUTES);
  return resourceFromAttributes({
    [ATTR_SERVICE_VERSION]: VERSION,
    ...attributes,
    [ATTR_SERVICE_NAME]: config.OTEL_SERVICE_NAME ?? attributes[ATTR_SERVICE_NAME] ?? "hookledger",
  });
}

async function metricExporter(target: SignalTarget): Promise<PushMetricExporter> {
  const options = { url: target.url, headers: target.headers };
  if (target.protocol === "http/json") return new (await import("@opentelemetry/exporter-metrics-otlp-http")).OTLPMetricExporter(options);
  return new (await import("@opentelemetry/exporter-metrics-otlp-proto")).OTLPMetricExporter(options);
}

/**
 * The SDK reports a failed export (collector down, refused, timed out) through its diagnostics channel, silent by
 * default: an operator would see nothing but a gap in the traces. Warnings and errors go to our log instead.
 */
function logDiagnostics(log: Logger): void {
  const write = (message: string, ...args: unknown[]) => log.warn(`opentelemetry: ${message}`, { detail: args.map((arg) => (arg instanceof Error ? arg.message : String(arg))) });
  const ignore = () => undefined;
  diag.setLogger({ error: write, warn: write, info: ignore, debug: ignore, verbose: ignore }, DiagLogLevel.WARN);
}

export async function startOpenTelemetry(config: Config, log: Logger, targets: { traces?: SignalTarget | undefined; metrics?: SignalTarget | undefined }): Promise<Telemetry> {
  logDiagnostics(log);
  const resource = resourceOf(config);
  const tracing = targets.traces ? await createOtelTracing(config, resource, targets.traces) : noTracing;
  const exporter = targets.metrics ? await metricExporter(targets.metrics) : undefined;
  let meters: MeterProvider | undefined;
  return {
    tracing,
    exportMetrics(registry: Registry) {
      if (!exporter || meters) return;
      const reader = new PeriodicExportingMetricReader({
        exporter,
        exportIntervalMillis: config.OTEL_METRIC_EXPORT_INTERVAL,
        exportTimeoutMillis: Math.min(30_000, config.OTEL_METRIC_EXPORT_INTERVAL),
        metricProducers: [new PrometheusBridge(registry)],
      });
      meters = new MeterProvider({ resource, readers: [reader] });
    },
    async flush() {
      await Promise.all([tracing.flush(), meters?.forceFlush()]);
    },
    async shutdown() {
      await Promise.allSettled([tracing.shutdown(), meters?.shutdown()]);
    },
  };
}
