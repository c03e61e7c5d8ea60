/** The OTEL_* settings: which signals go where, and bad values stopping start-up with one line. */
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { otelTargets, parseKeyValueList } from "../../src/observability/otel/settings.ts";

describe("OpenTelemetry settings", () => {
  it("exports nothing unless an endpoint is set", () => {
    expect(otelTargets(loadConfig({}))).toEqual({ traces: undefined, metrics: undefined });
    expect(otelTargets(loadConfig({ OTEL_SERVICE_NAME: "x", OTEL_EXPORTER_OTLP_HEADERS: "a=b" }))).toEqual({ traces: undefined, metrics: undefined });
  });

  it("appends the signal paths to the base endpoint, uses signal endpoints as given, and merges headers", () => {
    const targets = otelTargets(
      loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: "https://collector.example:4318/",
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "https://metrics.example/ingest",
        OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20abc, x-tenant=ops",
        OTEL_EXPORTER_OTLP_METRICS_HEADERS: "x-tenant=metrics",
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json",
      }),
    );
    expect(targets.traces).toEqual({ url: "https://collector.example:4318/v1/traces", headers: { authorization: "Bearer abc", "x-tenant": "ops" }, protocol: "http/json" });
    expect(targets.metrics).toEqual({ url: "https://metrics.example/ingest", headers: { authorization: "Bearer abc", "x-tenant": "metrics" }, protocol: "http/protobuf" });
  });

  it("turns a signal off with its exporter set to none, and everything off with OTEL_SDK_DISABLED", () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" };
    expect(otelTargets(loadConfig({ ...endpoint, OTEL_TRACES_EXPORTER: "none" })).traces).toBeUndefined();
    expect(otelTargets(loadConfig({ ...endpoint, OTEL_METRICS_EXPORTER: "none" })).metrics).toBeUndefined();
    expect(otelTargets(loadConfig({ ...endpoint, OTEL_SDK_DISABLED: "true" }))).toEqual({ traces: undefined, metrics: undefined });
  });

  it.each([
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, 'OTEL_EXPORTER_OTLP_PROTOCOL: expected http/protobuf or http/json (grpc is not supported) (got "grpc")'],
    [{ OTEL_TRACES_SAMPLER: "sometimes" }, expect.stringContaining("OTEL_TRACES_SAMPLER: expected one of always_on")],
    [{ OTEL_TRACES_SAMPLER_ARG: "1.5" }, 'OTEL_TRACES_SAMPLER_ARG: expected a sampling ratio from 0 to 1 (got "1.5")'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" }, expect.stringContaining("OTEL_EXPORTER_OTLP_ENDPOINT: expected an http(s) URL")],
  ])("refuses %j with one line naming the setting", (env, message) => {
    let thrown: unknown;
    try {
      loadConfig(env);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).toEqual(message);
  });

  it("never echoes exporter headers, which carry collector credentials", () => {
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_HEADERS: "Bearer hunter2" })).toThrow(new ConfigError("OTEL_EXPORTER_OTLP_HEADERS: expected headers as key=value pairs separated by commas"));
  });

  it("percent-decodes values and keeps '=' inside them", () => {
    expect(parseKeyValueList("a=1,b=x%3Dy,c=q=r")).toEqual({ a: "1", b: "x=y", c: "q=r" });
  });
});
