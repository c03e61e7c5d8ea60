/** JSON shapes of outbound resources, in one place so every route answers the same shape. */
import type { AttemptRow, DeliveryRow, EventRow } from "../deliveryStore.ts";
import type { SubscriptionRow } from "../subscriptionStore.ts";

const SENSITIVE_HEADER = /authorization|cookie|token|secret|key|password|signature/i;

/** Custom header values that look like credentials are shown only when the subscription is created. */
export function presentSubscription(row: SubscriptionRow, options: { revealHeaders?: boolean } = {}) {
  const headers = Object.fromEntries(
    Object.entries(row.headers).map(([name, value]) => [name, options.revealHeaders || !SENSITIVE_HEADER.test(name) ? value : "[redacted]"]),
  );
  return {
    id: row.subscription_id,
    app_id: row.app_id,
    url: row.url,
    event_types: row.event_types,
    labels: row.labels,
    headers,
    description: row.description,
    metadata: row.metadata,
    enabled: row.enabled,
    disabled_reason: row.disabled_reason,
    signature_scheme: row.signature_scheme,
    signed_headers: row.signed_headers,
    retry_schedule: row.retry_schedule,
    max_attempts: row.max_attempts,
    timeout_ms: row.timeout_ms,
    max_concurrency: row.max_concurrency,
    rate_limit_per_second: row.rate_limit_per_second,
    health: {
      consecutive_failures: row.consecutive_failures,
      failing_since: row.failing_since,
      last_success_at: row.last_success_at,
      last_failure_at: row.last_failure_at,
      auto_disabled_at: row.auto_disabled_at,
      circuit: { state: row.circuit_state, opened_at: row.circuit_opened_at, retry_at: row.circuit_retry_at },
    },
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

export function presentEvent(row: EventRow) {
  return {
    id: row.event_id,
    app_id: row.app_id,
    event_type: row.event_type,
    content_type: row.content_type,
    ...(row.payload_encoding === "json"
      ? { payload: JSON.parse(row.payload) as unknown }
      : row.payload_encoding === "text"
        ? { payload_text: row.payload }
        : { payload_base64: row.payload }),
    labels: row.labels,
    occurred_at: row.occurred_at,
    received_at: row.received_at,
    deliveries_scheduled: row.deliveries_scheduled,
  };
}

export function presentDelivery(row: DeliveryRow) {
  return {
    id: row.delivery_id,
    event_id: row.event_id,
    subscription_id: row.subscription_id,
    app_id: row.app_id,
    status: row.status,
    reason: row.reason,
    attempts: row.attempts,
    next_attempt_at: row.next_attempt_at,
    last_attempt_at: row.last_attempt_at,
    last_status_code: row.last_status_code,
    last_error_class: row.last_error_class,
    created_at: row.created_at,
    completed_at: row.completed_at,
  };
}

export function presentAttempt(row: AttemptRow) {
  return {
    id: row.attempt_id,
    delivery_id: row.delivery_id,
    event_id: row.event_id,
    subscription_id: row.subscription_id,
    attempt: row.attempt_number,
    outcome: row.outcome,
    status_code: row.status_code,
    error_class: row.error_class,
    error_message: row.error_message,
    duration_ms: row.duration_ms,
    response_headers: row.response_headers,
    response_excerpt: row.response_excerpt,
    attempted_at: row.attempted_at,
    next_attempt_at: row.next_attempt_at,
  };
}
