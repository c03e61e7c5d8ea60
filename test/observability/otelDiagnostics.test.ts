/** A collector that cannot be reached shows up in hookledger's log, not only as a silent gap in the traces. */
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { startTelemetry } from "../../src/observability/telemetry.ts";
import { eventually } from "../support/app.ts";
import { recordingLogger, type LoggedLine } from "../support/recordingLogger.ts";


/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// Read by the SDK itself from the process environment (this file runs in its own process): export soon, give up soon.
process.env.OTEL_BSP_SCHEDULE_DELAY = "50";
process.env.OTEL_EXPORTER_OTLP_TIMEOUT = "500";

describe("OpenTelemetry diagnostics", () => {
  it("logs a failed export as a warning, and the endpoint at start without its credentials (user part, query, path key)", async () => {
    const lines: LoggedLine[] = [];
    const port = await closedPort();
    const telemetry = await startTelemetry(
      loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://user:pw@127.0.0.1:${port}/ingest/Zx81kqPzW5yeK9f8/v1/traces?key=k`, OTEL_METRICS_EXPORTER: "none" }),
      recordingLogger(lines),
    );
    expect(lines[0]).toEqual({ level: "info", msg: "exporting OpenTelemetry", fields: { traces: `http://127.0.0.1:${port}/ingest/[redacted]/v1/traces`, metrics: null, protocol: "http/protobuf" } });
    const span = telemetry.tracing.startAttempt({ parent: null, subscriptionId: "s", deliveryId: "d", eventId: "e", eventType: "t", attemptNumber: 1 });
    span.end({ outcome: "succeeded", errorClass: null, statusCode: 200, durationMs: 3, nextAttemptAt: null });
    // The batch processor's own timer exports (an explicit flush answers its failure to the caller instead).
    await eventually(async () => (lines.some((line) => line.level === "warn" && line.msg.startsWith("opentelemetry: ")) ? true : undefined), 10_000, "a warning");
    await telemetry.shutdown();
  });
});
