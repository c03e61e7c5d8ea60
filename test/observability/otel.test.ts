/**
 * OpenTelemetry export against a real OTLP/HTTP receiver on loopback (test/support/otlpCollector.ts): one
 * connected trace per event, from the request through the fan-out to every delivery attempt (a retry included),
 * the Prometheus metrics under their own names, and a traceparent header only for subscriptions that ask.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { eventually, startTestApp, type TestApp } from "../support/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startOtlpCollector, type CollectedSpan, type OtlpCollector } from "../support/otlpCollector.ts";
import { startReceiver, type Receiver } from "../support/receiver.ts";
import { outboundTenant } from "../outbound/setup.ts";

let db: TestDatabase;
let app: TestApp;
let receiver: Receiver;
let collector: OtlpCollector;
let t: Awaited<ReturnType<typeof outboundTenant>>;

beforeAll(async () => {
  db = await createTestDatabase();
  collector = await startOtlpCollector();
  receiver = await startReceiver();
  app = await startTestApp(db, {
    worker: true,
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20collector-token",
      OTEL_SERVICE_NAME: "hookledger-test",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=test",
      OTEL_METRIC_EXPORT_INTERVAL: "200",
    },
  });
});
beforeEach(async () => {
  t = await outboundTenant(app);
});
afterAll(async () => {
  await app?.stop();
  await receiver?.close();
  await collector?.close();
  await db?.drop();
});


/** Flushes the batch span processor until the spans `check` waits for have arrived. */
const spansWhere = (check: (spans: CollectedSpan[]) => boolean, what: string) =>
  eventually(async () => {
    await app.ctx.tracing.flush();
    return check(collector.spans) ? collector.spans : undefined;
  }, 10_000, what);

const attemptSpansOf = (eventId: string) =>
  collector.spans.filter((span) => span.name === "hookledger.delivery.attempt" && span.attributes.event_id === eventId).sort((a, b) => Number(a.attributes.attempt_number) - Number(b.attributes.attempt_number));

describe("OpenTelemetry traces", () => {
  it("follows an event from the producer's request through the fan-out to each attempt, a retry included, in one trace", async () => {
    receiver.respond("/traced", { status: 503 }, { status: 200 });
    const sub = await t.subscribe({ url: receiver.url("/traced"), retry_schedule: [0.2], send_traceparent: true });
    expect(sub.send_traceparent).toBe(true);
    const producerTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
    const producerParent = `00-${producerTrace}-00f067aa0ba902b7-01`;
    const accepted = await app.call("POST", "/v1/events", t.token, { app_id: t.appId, event_type: "invoice.paid", event_id: "traced_1", payload: { n: 1 } }, { traceparent: producerParent });
    expect(accepted.status).toBe(202);
    await t.settled("traced_1", "succeeded");
    await spansWhere(() => attemptSpansOf("traced_1").length === 2, "two attempt spans");

    const request = collector.spans.find((span) => span.name === "POST /v1/events" && span.traceId === producerTrace);
    expect(request, "the request span continues the producer's trace").toBeDefined();
    expect(request?.parentSpanId).toBe("00f067aa0ba902b7");
    expect(request?.kind).toBe(2); // SERVER
    expect(request?.attributes["http.route"]).toBe("/v1/events");
    expect(request?.attributes["http.response.status_code"]).toBe(202);

    const fanout = collector.spans.find((span) => span.name === "hookledger.fanout" && span.attributes.event_id === "traced_1");
    expect(fanout?.traceId).toBe(producerTrace);
    expect(fanout?.parentSpanId).toBe(request?.spanId);
    expect(fanout?.attributes.deliveries_scheduled).toBe(1);

    // The group-commit flush serves many requests: it links to them rather than parenting them.
    const batch = collector.spans.find((span) => span.name === "hookledger.ingest.batch" && span.links.some((link) => link.spanId === request?.spanId));
    expect(batch).toBeDefined();
    expect(fanout?.links.map((link) => link.spanId)).toContain(batch?.spanId);

    const attempts = attemptSpansOf("traced_1");
    expect(attempts.map((span) => [span.traceId, span.parentSpanId])).toEqual([
      [producerTrace, fanout?.spanId],
      [producerTrace, fanout?.spanId],
    ]);
    expect(attempts.map((span) => [span.attributes.attempt_number, span.attributes.status_code, span.attributes.outcome, span.attributes.error_class, span.statusCode])).toEqual([
      [1, 503, "failed", "http_status", 2],
      [2, 200, "succeeded", "none", 0],
    ]);
    for (const span of attempts) {
      expect(span.kind).toBe(3); // CLIENT
      expect(span.attributes.subscription_id).toBe(sub.id);
      expect(typeof span.attributes.duration_ms).toBe("number");
    }
    expect(typeof attempts[0]?.attributes.next_attempt_at).toBe("string");

    // The receiver got each attempt's own span as its parent, so its spans join the same trace.
    const received = receiver.requests.filter((r) => r.path === "/traced");
    expect(received.map((r) => r.headers.traceparent)).toEqual(attempts.map((span) => `00-${producerTrace}-${span.spanId}-01`));

    expect(request?.resource["service.name"]).toBe("hookledger-test");
    expect(request?.resource["deployment.environment"]).toBe("test");
    const traceExport = collector.exports.find((e) => e.path === "/v1/traces");
    expect(traceExport?.contentType).toMatch(/^application\/json/);
    expect(traceExport?.headers.authorization).toBe("Bearer collector-token");
  });

  it("starts a trace of its own for an event sent without a traceparent, and keeps it for a retry recorded later", async () => {
    receiver.respond("/later", { status: 500 }, { status: 500 }, { status: 204 });
    await t.subscribe({ url: receiver.url("/later"), retry_schedule: [0.3, 0.3] });
    await t.send({ event_id: "traced_2" });
    await t.settled("traced_2", "succeeded");
    await spansWhere(() => attemptSpansOf("traced_2").length === 3, "three attempt spans");
    const fanout = collector.spans.find((span) => span.name === "hookledger.fanout" && span.attributes.event_id === "traced_2");
    const request = collector.spans.find((span) => span.spanId === fanout?.parentSpanId);
    expect(request?.name).toBe("POST /v1/events");
    expect(request?.parentSpanId).toBe("");
    expect(attemptSpansOf("traced_2").map((span) => [span.traceId, span.parentSpanId, span.attributes.attempt_number])).toEqual([
      [request?.traceId, fanout?.spanId, 1],
      [request?.traceId, fanout?.spanId, 2],
      [request?.traceId, fanout?.spanId, 3],
    ]);
    // The trace context lives on the event row, not in the job payload.
    const [row] = await db.owner<{ traceparent: string | null }[]>`select traceparent from hookledger.events where event_id = 'traced_2'`;
    expect(row?.traceparent).toBe(`00-${request?.traceId}-${fanout?.spanId}-01`);
  });

  it("sends no traceparent to a subscription that did not opt in", async () => {
    receiver.respond("/private", { status: 200 });
    const sub = await t.subscribe({ url: receiver.url("/private") });
    expect(sub.send_traceparent).toBe(false);
    await t.send({ event_id: "traced_3" });
    await t.settled("traced_3", "succeeded");
    const [request] = await receiver.waitFor(1, "/private");
    expect(request?.headers.traceparent).toBeUndefined();
    await spansWhere(() => attemptSpansOf("traced_3").length === 1, "the attempt span");
    const switched = await app.call("PATCH", `/v1/subscriptions/${sub.id}`, t.token, { send_traceparent: true });
    expect(switched.body.send_traceparent).toBe(true);
    const refused = await app.call("PATCH", `/v1/subscriptions/${sub.id}`, t.token, { send_traceparent: "yes" });
    expect(refused.status).toBe(400);
    expect(refused.body.errors[0].field).toBe("send_traceparent");
  });

  it("traces inbound /in requests by route pattern, never by the raw path", async () => {
    const response = await app.fetch("/in/00000000-0000-4000-8000-000000000000", { method: "POST", body: "{}" });
    expect(response.status).toBe(404);
    const spans = await spansWhere((all) => all.some((span) => span.name.startsWith("POST /in")), "an /in span");
    const span = spans.find((s) => s.name.startsWith("POST /in"));
    expect(span?.name).not.toContain("00000000-0000-4000-8000-000000000000");
    expect(span?.attributes["http.response.status_code"]).toBe(404);
  });
});

describe("OpenTelemetry metrics", () => {
  it("exports the Prometheus metrics under their names and label names", async () => {
    receiver.respond("/counted", { status: 200 });
    await t.subscribe({ url: receiver.url("/counted") });
    await t.send({ event_id: "counted_1" });
    await t.settled("counted_1", "succeeded");
    const attempts = await eventually(async () => {
      const metric = collector.metrics.filter((m) => m.name === "hookledger_delivery_attempts_total").at(-1);
      const point = metric?.points.find((p) => p.attributes.outcome === "succeeded" && p.attributes.error_class === "none");
      return point && (point.value ?? 0) >= 1 ? metric : undefined;
    }, 10_000, "the attempts counter");
    expect(attempts.type).toBe("sum");
    const duration = collector.metrics.filter((m) => m.name === "hookledger_delivery_attempt_duration_seconds").at(-1);
    expect(duration?.type).toBe("histogram");
    const succeeded = duration?.points.find((p) => p.attributes.outcome === "succeeded");
    expect(succeeded?.count).toBeGreaterThanOrEqual(1);
    expect(succeeded?.bucketCounts?.reduce((a, b) => a + b, 0)).toBe(succeeded?.count);
    expect(succeeded?.explicitBounds).toEqual([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]);
    expect(collector.metrics.some((m) => m.name === "hookledger_delivery_queue_lag_seconds" && m.type === "gauge")).toBe(true);
  });
});
