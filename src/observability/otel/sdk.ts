/**
 * Starts OpenTelemetry export: traces through our own tracer provider (tracer.ts), metrics by reading the
 * Prometheus registry at every export interval (prometheusBridge.ts). Imported dynamically by ../telemetry.ts,
 * and only when an OTLP endpoint is configured, so a process without one never loads an @opentelemetry module.
 */
import { resourceFromAttributes, type Resource } from "@opentelemetry/resources";
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from "@opentelemetry/sdk-metrics";
import type { Registry } from "prom-client";
import type { Config } from "../../config.ts";
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
    "service.version": VERSION,
    ...attributes,
    "service.name": config.OTEL_SERVICE_NAME ?? attributes["service.name"] ?? "hookledger",
  });
}

async function metricExporter(target: SignalTarget): Promise<PushMetricExporter> {
  const options = { url: target.url, headers: target.headers };
  if (target.protocol === "http/json") return new (await import("@opentelemetry/exporter-metrics-otlp-http")).OTLPMetricExporter(options);
  return new (await import("@opentelemetry/exporter-metrics-otlp-proto")).OTLPMetricExporter(options);
}

export async function startOpenTelemetry(config: Config, targets: { traces?: SignalTarget | undefined; metrics?: SignalTarget | undefined }): Promise<Telemetry> {
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
