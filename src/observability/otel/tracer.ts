/**
 * hookledger's spans on the OpenTelemetry SDK: a tracer provider of our own (never registered as the global one,
 * so @sentry/node, which builds on the same API, keeps its own), a batch processor and the OTLP exporter of the
 * configured protocol. Parents are passed explicitly as traceparent strings, so no context manager is needed,
 * and nothing depends on async hooks that Bun does not offer to auto-instrumentation.
 *
 * Loaded only through a dynamic import when traces are exported (see ../telemetry.ts).
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Link, type Span, type SpanContext, type Tracer } from "@opentelemetry/api";
import { parseTraceParent } from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import { ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE } from "@opentelemetry/semantic-conventions";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";
import type { Config } from "../../config.ts";
import type { AttemptSpan, AttemptSpanStart, FanoutSpanStart, IngestBatchSpan, RequestSpan, Tracing } from "../tracing.ts";
import type { SignalTarget } from "./settings.ts";

const INSTRUMENTATION_SCOPE = "hookledger";

export function formatTraceparent(context: SpanContext): string {
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

/** The context a traceparent string names (a malformed or absent one: a new trace). */
function parentContext(traceparent: string | null | undefined): Context {
  if (!traceparent) return ROOT_CONTEXT;
  const parsed = parseTraceParent(traceparent);
  return parsed ? trace.setSpanContext(ROOT_CONTEXT, { ...parsed, isRemote: true }) : ROOT_CONTEXT;
}

function linkTo(traceparent: string | undefined): Link | undefined {
  const parsed = traceparent ? parseTraceParent(traceparent) : null;
  return parsed ? { context: parsed } : undefined;
}

function samplerFrom(config: Config): Sampler {
  const ratio = config.OTEL_TRACES_SAMPLER_ARG ?? 1;
  switch (config.OTEL_TRACES_SAMPLER) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio);
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

async function spanExporter(target: SignalTarget): Promise<SpanExporter> {
  const options = { url: target.url, headers: target.headers };
  if (target.protocol === "http/json") return new (await import("@opentelemetry/exporter-trace-otlp-http")).OTLPTraceExporter(options);
  return new (await import("@opentelemetry/exporter-trace-otlp-proto")).OTLPTraceExporter(options);
}

function failSpan(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? { name: error.name, message: error.message } : { message: String(error) });
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : "error" });
  span.end();
}

class AttemptSpanOf implements AttemptSpan {
  readonly traceparent: string;
  constructor(private readonly span: Span) {
    this.traceparent = formatTraceparent(span.spanContext());
  }

  end(result: Parameters<AttemptSpan["end"]>[0]): void {
    this.span.setAttributes({
      outcome: result.outcome,
      // As the Prometheus label: "none" when the attempt succeeded.
      error_class: result.errorClass ?? "none",
      duration_ms: result.durationMs,
      ...(result.statusCode === null ? {} : { status_code: result.statusCode, [ATTR_HTTP_RESPONSE_STATUS_CODE]: result.statusCode }),
      ...(result.nextAttemptAt ? { next_attempt_at: result.nextAttemptAt.toISOString() } : {}),
    });
    if (result.outcome === "failed") this.span.setStatus({ code: SpanStatusCode.ERROR, message: result.errorClass ?? "failed" });
    this.span.end();
  }

  fail(error: unknown): void {
    failSpan(this.span, error);
  }
}

class IngestBatchSpanOf implements IngestBatchSpan {
  private readonly fanouts: Span[] = [];
  private readonly batchLink: Link;

  constructor(
    private readonly tracer: Tracer,
    private readonly batch: Span,
  ) {
    this.batchLink = { context: batch.spanContext() };
  }

  fanout(start: FanoutSpanStart): string {
    // Under the request span when there is one, so the event's trace reads request → fan-out → attempts; the
    // batch span is shared by many events' traces, so it is a link, not a parent.
    const parent = start.parent ? parentContext(start.parent) : trace.setSpan(ROOT_CONTEXT, this.batch);
    const span = this.tracer.startSpan(
      "hookledger.fanout",
      {
        kind: SpanKind.INTERNAL,
        attributes: { event_id: start.eventId, event_type: start.eventType, app_id: start.appId, deliveries_scheduled: start.deliveriesScheduled },
        links: start.parent ? [this.batchLink] : [],
      },
      parent,
    );
    this.fanouts.push(span);
    return formatTraceparent(span.spanContext());
  }

  end(error?: unknown): void {
    for (const span of [...this.fanouts, this.batch]) {
      if (error === undefined) span.end();
      else failSpan(span, error);
    }
  }
}

export interface OtelTracing extends Tracing {
  readonly provider: BasicTracerProvider;
}

export async function createOtelTracing(config: Config, resource: Resource, target: SignalTarget): Promise<OtelTracing> {
  const provider = new BasicTracerProvider({
    resource,
    sampler: samplerFrom(config),
    spanProcessors: [new BatchSpanProcessor(await spanExporter(target))],
  });
  const tracer = provider.getTracer(INSTRUMENTATION_SCOPE);
  return {
    enabled: true,
    provider,
    startRequest(method, incoming, requestId): RequestSpan {
      const span = tracer.startSpan(method, { kind: SpanKind.SERVER, attributes: { [ATTR_HTTP_REQUEST_METHOD]: method, request_id: requestId } }, parentContext(incoming));
      return {
        traceparent: formatTraceparent(span.spanContext()),
        end(route, status) {
          span.updateName(`${method} ${route}`);
          span.setAttributes({ [ATTR_HTTP_ROUTE]: route, [ATTR_HTTP_RESPONSE_STATUS_CODE]: status });
          if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        },
      };
    },
    startIngestBatch(orgId, requestParents) {
      const links = requestParents.map(linkTo).filter((link): link is Link => link !== undefined);
      const batch = tracer.startSpan("hookledger.ingest.batch", { kind: SpanKind.INTERNAL, attributes: { org_id: orgId, events: requestParents.length }, links }, ROOT_CONTEXT);
      return new IngestBatchSpanOf(tracer, batch);
    },
    startAttempt(start: AttemptSpanStart) {
      const span = tracer.startSpan(
        "hookledger.delivery.attempt",
        {
          kind: SpanKind.CLIENT,
          attributes: {
            subscription_id: start.subscriptionId,
            delivery_id: start.deliveryId,
            event_id: start.eventId,
            event_type: start.eventType,
            attempt_number: start.attemptNumber,
            [ATTR_HTTP_REQUEST_METHOD]: "POST",
          },
        },
        parentContext(start.parent),
      );
      return new AttemptSpanOf(span);
    },
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
