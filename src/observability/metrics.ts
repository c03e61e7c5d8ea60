/**
 * Prometheus metrics of this process. Counters are incremented where things happen (ingestion, delivery
 * attempts, HTTP); the queue lag is read from Postgres at scrape time, so it is right even when the worker runs
 * in another process.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Sql } from "../db/connect.ts";

export interface Metrics {
  readonly registry: Registry;
  readonly eventsIngested: Counter<"outcome">;
  readonly deliveriesScheduled: Counter;
  readonly ingestBatches: Counter<"path">;
  readonly attemptGroupsRecorded: Counter<"path">;
  readonly ingressBatches: Counter<"path">;
  readonly attempts: Counter<"outcome" | "error_class">;
  readonly attemptDuration: Histogram<"outcome">;
  readonly retriesScheduled: Counter;
  readonly deliveriesFailed: Counter;
  readonly deliveriesDeferred: Counter<"reason">;
  readonly circuitTransitions: Counter<"state">;
  readonly autoDisabled: Counter;
  readonly ingressVerifications: Counter<"result">;
  readonly httpRequests: Counter<"method" | "route" | "status">;
  readonly httpDuration: Histogram<"method" | "route">;
}

export function createMetrics(sql: Sql): Metrics {
  const registry = new Registry();
  // prom-client's process and runtime metrics keep their conventional names (process_cpu_seconds_total,
  // nodejs_heap_size_used_bytes, …) so stock dashboards and alerts find them; the hookledger_ prefix marks our own.
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  new Gauge({
    name: "hookledger_delivery_queue_lag_seconds",
    help: "Seconds the oldest due delivery job has been waiting for a worker.",
    registers,
    async collect() {
      try {
        const [row] = await sql<{ lag: number }[]>`select hookledger.delivery_queue_lag_seconds() as lag`;
        this.set(row?.lag ?? 0);
      } catch {
        this.set(-1);
      }
    },
  });
  return {
    registry,
    eventsIngested: new Counter({ name: "hookledger_events_ingested_total", help: "Events accepted by POST /v1/events (outcome: new or duplicate).", labelNames: ["outcome"], registers }),
    deliveriesScheduled: new Counter({ name: "hookledger_deliveries_scheduled_total", help: "Deliveries scheduled by fan-out and replay.", registers }),
    ingestBatches: new Counter({
      name: "hookledger_ingest_batches_total",
      help: "Ingest batches written (path: one_statement, the common case; transaction, when a batch needed fresh reads: a refusal, a repeated event id, the quota, a configuration change).",
      labelNames: ["path"],
      registers,
    }),
    ingressBatches: new Counter({
      name: "hookledger_ingress_batches_total",
      help: "Batches of received webhooks recorded (path: one_statement, the common case; transaction, when a nonce was repeated or seen before).",
      labelNames: ["path"],
      registers,
    }),
    attemptGroupsRecorded: new Counter({
      name: "hookledger_attempt_groups_recorded_total",
      help: "Groups of delivery attempts recorded (path: one_statement, healthy successes; transaction, anything with a failure, a retry or an unhealthy endpoint).",
      labelNames: ["path"],
      registers,
    }),
    attempts: new Counter({ name: "hookledger_delivery_attempts_total", help: "Delivery attempts by outcome and error class.", labelNames: ["outcome", "error_class"], registers }),
    attemptDuration: new Histogram({
      name: "hookledger_delivery_attempt_duration_seconds",
      help: "Duration of delivery attempts (request sent to response read).",
      labelNames: ["outcome"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    retriesScheduled: new Counter({ name: "hookledger_delivery_retries_scheduled_total", help: "Retries scheduled after a failed attempt.", registers }),
    deliveriesFailed: new Counter({ name: "hookledger_deliveries_failed_total", help: "Deliveries that exhausted their attempts.", registers }),
    deliveriesDeferred: new Counter({ name: "hookledger_deliveries_deferred_total", help: "Deliveries handed back to the queue: unattempted (endpoint busy or stalled, circuit open, rate limit, secret unavailable: its signing secret or a sealed header the keyring cannot open) or still being sent when their job's time was up (handed over).", labelNames: ["reason"], registers }),
    circuitTransitions: new Counter({ name: "hookledger_circuit_transitions_total", help: "Circuit breaker openings and closings.", labelNames: ["state"], registers }),
    autoDisabled: new Counter({ name: "hookledger_subscriptions_auto_disabled_total", help: "Subscriptions auto-disabled for failing.", registers }),
    ingressVerifications: new Counter({ name: "hookledger_ingress_verifications_total", help: "Inbound webhook verifications by result.", labelNames: ["result"], registers }),
    httpRequests: new Counter({ name: "hookledger_http_requests_total", help: "HTTP requests by route pattern and status.", labelNames: ["method", "route", "status"], registers }),
    httpDuration: new Histogram({
      name: "hookledger_http_request_duration_seconds",
      help: "HTTP request duration by route pattern.",
      labelNames: ["method", "route"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
  };
}
