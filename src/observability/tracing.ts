/**
 * Tracing as the rest of hookledger sees it: a few explicit spans named after what the service does, with trace
 * context passed around as W3C `traceparent` strings. No OpenTelemetry module is imported here, so a process
 * without OTEL_EXPORTER_OTLP_* settings loads none (see telemetry.ts); callers test `enabled` before doing any
 * tracing work, which keeps the hot paths at one branch when tracing is off.
 *
 * Why explicit spans and strings: auto-instrumentation does not hook Bun, and the context must survive a
 * database round trip (the event row keeps its traceparent so that a retry hours later joins the same trace).
 */

/** What a delivery attempt span records when it ends: the attributes carry the Prometheus label names. */
export interface AttemptSpanResult {
  outcome: "succeeded" | "failed" | "aborted";
  errorClass: string | null;
  statusCode: number | null;
  durationMs: number;
  /** When the next try is due, or null when none is scheduled. */
  nextAttemptAt: Date | null;
}

export interface AttemptSpan {
  /** The span as a W3C traceparent: what the receiver gets when its subscription opts in. */
  readonly traceparent: string;
  end(result: AttemptSpanResult): void;
  /** The attempt did not complete (an exception before an outcome). */
  fail(error: unknown): void;
}

export interface AttemptSpanStart {
  /** The event's stored traceparent: attempts (first or hours-later retry) join its trace. */
  parent: string | null;
  subscriptionId: string;
  deliveryId: string;
  eventId: string;
  eventType: string;
  attemptNumber: number;
}

export interface RequestSpan {
  readonly traceparent: string;
  /** Ends the span, named by the matched route pattern (never the raw path, which can carry ids). */
  end(route: string, status: number): void;
}

/** The fan-out of one accepted event, inside a group-commit batch. */
export interface FanoutSpanStart {
  /** The request span's traceparent, when the event came through a traced request. */
  parent: string | undefined;
  eventId: string;
  eventType: string;
  appId: string;
  deliveriesScheduled: number;
}

/** One group-commit flush: linked to every request it writes for, parent of nothing (it serves many traces). */
export interface IngestBatchSpan {
  /** Starts the fan-out span of one event; answers its traceparent, which is stored on the event. */
  fanout(start: FanoutSpanStart): string;
  /** Ends the batch and its fan-out spans: after the commit, or with the error that rolled it back. */
  end(error?: unknown): void;
}

export interface Tracing {
  readonly enabled: boolean;
  /** A server span for one HTTP request; `incoming` is the caller's traceparent header, if any. */
  startRequest(method: string, incoming: string | undefined, requestId: string): RequestSpan;
  startIngestBatch(orgId: string, requestParents: readonly (string | undefined)[]): IngestBatchSpan;
  startAttempt(start: AttemptSpanStart): AttemptSpan;
  /** Exports what is buffered (tests, shutdown). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

const inertAttempt: AttemptSpan = { traceparent: "", end: () => undefined, fail: () => undefined };
const inertRequest: RequestSpan = { traceparent: "", end: () => undefined };
const inertBatch: IngestBatchSpan = { fanout: () => "", end: () => undefined };

/** Tracing off: callers check `enabled` first; the methods answer inert spans should one not. */
export const noTracing: Tracing = {
  enabled: false,
  startRequest: () => inertRequest,
  startIngestBatch: () => inertBatch,
  startAttempt: () => inertAttempt,
  flush: async () => undefined,
  shutdown: async () => undefined,
};
