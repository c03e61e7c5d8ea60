/**
 * The default OTLP encoding (http/protobuf), decoded by the collector stand-in, with Sentry initialised in the same
 * process: both keep working, neither takes the other's spans.
 */
import { createTransport } from "@sentry/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSentryReporter } from "../../src/observability/errorReporter.ts";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startOtlpCollector, type OtlpCollector } from "../support/otlpCollector.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "../outbound/setup.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let collector: OtlpCollector;

beforeAll(async () => {
  db = await createTestDatabase();
  collector = await startOtlpCollector();
  receiver = await startReceiver();
  app = await startTestApp(db, {
    worker: true,
    env: {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${collector.url}/v1/traces`,
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${collector.url}/v1/metrics`,
      OTEL_METRIC_EXPORT_INTERVAL: "200",
    },
  });
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await collector?.close();
  await db?.drop();
});

describe("OpenTelemetry over http/protobuf beside Sentry", () => {
  it("exports a connected trace and the metrics as protobuf while Sentry reports its own spans and errors", async () => {
    const envelopes: string[] = [];
    const sentry = await createSentryReporter({
      dsn: "https://publickey@o0.ingest.sentry.invalid/1",
      environment: "test",
      tracesSampleRate: 1,
      transport: (options: Parameters<typeof createTransport>[0]) =>
        createTransport(options, async (request) => {
          envelopes.push(typeof request.body === "string" ? request.body : Buffer.from(request.body).toString("utf8"));
          return { statusCode: 200 };
        }),
    });
    const t = await outboundTenant(app);
    receiver.respond("/proto", { status: 200 });
    await t.subscribe({ url: receiver.url("/proto"), send_traceparent: true });
    await sentry.span("ingest", "test", async () => {
      expect((await t.send({ event_id: "proto_1" })).status).toBe(202);
    });
    const [delivered] = await receiver.waitFor(1, "/proto");
    const spans = await eventually(async () => {
      await app.ctx.tracing.flush();
      return collector.spans.some((span) => span.name === "hookledger.delivery.attempt" && span.attributes.event_id === "proto_1") ? collector.spans : undefined;
    }, 10_000, "the attempt span");
    const attempt = spans.find((span) => span.name === "hookledger.delivery.attempt" && span.attributes.event_id === "proto_1");
    const fanout = spans.find((span) => span.spanId === attempt?.parentSpanId);
    const request = spans.find((span) => span.spanId === fanout?.parentSpanId);
    expect([fanout?.name, request?.name]).toEqual(["hookledger.fanout", "POST /v1/events"]);
    expect(new Set([attempt?.traceId, fanout?.traceId, request?.traceId]).size).toBe(1);
    expect(attempt?.attributes.status_code).toBe(200);
    expect(attempt?.resource["service.name"]).toBe("hookledger");
    expect(delivered?.headers.traceparent).toBe(`00-${attempt?.traceId}-${attempt?.spanId}-01`);
    expect(collector.exports.find((e) => e.path === "/v1/traces")?.contentType).toBe("application/x-protobuf");

    const ingested = await eventually(async () => {
      const metric = collector.metrics.filter((m) => m.name === "hookledger_events_ingested_total").at(-1);
      return metric?.points.some((p) => p.attributes.outcome === "new" && (p.value ?? 0) >= 1) ? metric : undefined;
    }, 10_000, "the ingestion counter");
    expect(ingested.type).toBe("sum");
    expect(collector.exports.find((e) => e.path === "/v1/metrics")?.contentType).toBe("application/x-protobuf");

    // Sentry's span and error still leave through Sentry, and hookledger's spans did not go there.
    sentry.captureException(new Error("beside OpenTelemetry"), { task: "deliver" });
    await sentry.flush(2000);
    const sent = envelopes.join("\n");
    expect(sent).toContain("beside OpenTelemetry");
    expect(sent).toContain('"transaction":"ingest"');
    expect(sent).not.toContain("hookledger.delivery.attempt");
  });
});
