/**
 * The standard OpenTelemetry environment variables hookledger honours, validated like every other setting.
 *
 * Why read through the config schema rather than leave them to the SDK: the SDK reads `process.env` only, while
 * hookledger's configuration is one environment map (tests and embedders pass their own), and a bad value should
 * stop start-up with one line naming it, not be logged and ignored by the SDK's diagnostics. `grpc` is refused: the
 * gRPC exporters need @grpc/grpc-js, which hookledger does not ship.
 */
import * as v from "valibot";
import { flagSetting, wholeNumberSetting } from "../../settingFields.ts";

const httpUrl = (name: string) =>
  v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.check((raw) => {
        try {
          const url = new URL(raw);
          return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
        } catch {
          return false;
        }
      }, `expected an http(s) URL of the OTLP receiver, e.g. http://collector:4318${name}`),
    ),
  );

const protocols = ["http/protobuf", "http/json"] as const;
const protocol = v.pipe(v.string(), v.trim(), v.toLowerCase(), v.picklist(protocols, `expected ${protocols.join(" or ")} (grpc is not supported)`));

/** `key=value,key2=value2`, values percent-encoded (the W3C baggage form the specification uses). */
const KEY_VALUE_LIST = /^\s*[^=,\s]+\s*=[^,]*(,\s*[^=,\s]+\s*=[^,]*)*\s*$/;
const keyValueList = (what: string) => v.optional(v.pipe(v.string(), v.regex(KEY_VALUE_LIST, `expected ${what} as key=value pairs separated by commas`)));

const samplers = ["always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"] as const;
const exporters = ["otlp", "none"] as const;

export const otelSettings = {
  OTEL_SDK_DISABLED: flagSetting(false),
  OTEL_SERVICE_NAME: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(255, "expected a name of at most 255 characters"))),
  OTEL_RESOURCE_ATTRIBUTES: keyValueList("resource attributes"),
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl(" (the signal paths /v1/traces and /v1/metrics are appended)"),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpUrl("/v1/traces (used as given)"),
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: httpUrl("/v1/metrics (used as given)"),
  OTEL_EXPORTER_OTLP_HEADERS: keyValueList("headers"),
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: keyValueList("headers"),
  OTEL_EXPORTER_OTLP_METRICS_HEADERS: keyValueList("headers"),
  OTEL_EXPORTER_OTLP_PROTOCOL: v.optional(protocol, "http/protobuf"),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: v.optional(protocol),
  OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: v.optional(protocol),
  OTEL_TRACES_EXPORTER: v.optional(v.pipe(v.string(), v.trim(), v.toLowerCase(), v.picklist(exporters, "expected otlp or none")), "otlp"),
  OTEL_METRICS_EXPORTER: v.optional(v.pipe(v.string(), v.trim(), v.toLowerCase(), v.picklist(exporters, "expected otlp or none")), "otlp"),
  OTEL_TRACES_SAMPLER: v.optional(v.pipe(v.string(), v.trim(), v.toLowerCase(), v.picklist(samplers, `expected one of ${samplers.join(", ")}`)), "parentbased_always_on"),
  OTEL_TRACES_SAMPLER_ARG: v.optional(
    v.pipe(v.string(), v.trim(), v.regex(/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/, "expected a sampling ratio from 0 to 1"), v.transform(Number)),
  ),
  OTEL_METRIC_EXPORT_INTERVAL: wholeNumberSetting(100, 86_400_000, 60_000),
};

/** Header settings may carry collector credentials: never echoed back in a configuration error. */
export const otelSecretSettings = ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_METRICS_HEADERS"];

const otelSchema = v.object(otelSettings);
type OtelSettings = v.InferOutput<typeof otelSchema>;

/** Where one signal goes, or undefined when it is not exported. */
export interface SignalTarget {
  url: string;
  headers: Record<string, string>;
  protocol: (typeof protocols)[number];
}

/** Parses `key=value,…` with percent-decoded values (malformed escapes kept as written). */
export function parseKeyValueList(raw: string | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  if (!raw) return result;
  for (const pair of raw.split(",")) {
    const at = pair.indexOf("=");
    if (at <= 0) continue;
    const key = pair.slice(0, at).trim();
    const value = pair.slice(at + 1).trim();
    try {
      result[key] = decodeURIComponent(value);
    } catch {
      result[key] = value;
    }
  }
  return result;
}

function target(config: OtelSettings, signal: "traces" | "metrics"): SignalTarget | undefined {
  const upper = signal === "traces" ? "TRACES" : "METRICS";
  if (config.OTEL_SDK_DISABLED || config[`OTEL_${upper}_EXPORTER`] === "none") return undefined;
  const specific = config[`OTEL_EXPORTER_OTLP_${upper}_ENDPOINT`];
  const general = config.OTEL_EXPORTER_OTLP_ENDPOINT;
  // The specification: a signal-specific endpoint is used as given; the general one gets the signal's path.
  const url = specific ?? (general === undefined ? undefined : `${general.replace(/\/+$/, "")}/v1/${signal}`);
  if (url === undefined) return undefined;
  return {
    url,
    headers: { ...parseKeyValueList(config.OTEL_EXPORTER_OTLP_HEADERS), ...parseKeyValueList(config[`OTEL_EXPORTER_OTLP_${upper}_HEADERS`]) },
    protocol: config[`OTEL_EXPORTER_OTLP_${upper}_PROTOCOL`] ?? config.OTEL_EXPORTER_OTLP_PROTOCOL,
  };
}

/** What to export: nothing at all (and no OpenTelemetry module loaded) when both are undefined. */
export function otelTargets(config: OtelSettings): { traces?: SignalTarget | undefined; metrics?: SignalTarget | undefined } {
  return { traces: target(config, "traces"), metrics: target(config, "metrics") };
}
