/**
 * endpoint.failing and endpoint.recovered from a group of recorded attempts: each endpoint's failure count is
 * replayed through the group in ledger order from its count before the group (read under the endpoint's row lock,
 * see attemptRecord.ts), so a threshold is announced once, when the count reaches it, however attempts are grouped.
 *
 * An endpoint that was healthy when its deliveries were loaded and only succeeds is not in `before` (its row is
 * not locked, to keep successes free): nothing can be announced for it, and nothing is lost unless a concurrent
 * group's failures crossed a threshold between the load and this record — then its recovery goes unannounced.
 */
import type { AttemptResult } from "./attemptRecord.ts";
import { failingThresholds, type OperationalFact } from "./operationalEvents.ts";

export interface EndpointBefore {
  subscription_id: string;
  consecutive_failures: number;
  /** Enabled and not deleted: only such endpoints are announced. */
  live: boolean;
}

export function endpointAlerts(results: readonly AttemptResult[], before: readonly EndpointBefore[], autoDisableFailures: number): OperationalFact[] {
  if (before.length === 0) return [];
  const thresholds = failingThresholds(autoDisableFailures);
  const firstThreshold = Math.min(...thresholds);
  const counts = new Map(before.filter((row) => row.live).map((row) => [row.subscription_id, row.consecutive_failures]));
  const facts: OperationalFact[] = [];
  for (const result of results) {
    const { subscription } = result.loaded;
    const count = counts.get(subscription.subscription_id);
    if (count === undefined || result.control === "abort") continue;
    const endpoint = { app_id: subscription.app_id, subscription_id: subscription.subscription_id };
    const ids = { delivery_id: result.loaded.deliveryId, event_id: result.loaded.event.event_id };
    if (result.succeeded) {
      if (count >= firstThreshold) facts.push({ type: "endpoint.recovered", data: { ...endpoint, consecutive_failures: count, ...ids } });
      counts.set(subscription.subscription_id, 0);
      continue;
    }
    const failures = count + 1;
    counts.set(subscription.subscription_id, failures);
    if (thresholds.includes(failures)) {
      facts.push({
        type: "endpoint.failing",
        data: {
          ...endpoint,
          consecutive_failures: failures,
          auto_disable_failures: autoDisableFailures > 0 ? autoDisableFailures : null,
          ...ids,
          last_status_code: result.attempt.status_code,
          last_error_class: result.attempt.error_class,
        },
      });
    }
  }
  return facts;
}
