/**
 * Which subscriptions an event goes to: event-type patterns (exact names, `invoice.*` for one or more segments
 * under `invoice`, `*` for everything) and a label filter (the event's labels must contain every key/value of
 * the subscription's).
 */

export function matchesEventType(patterns: readonly string[], eventType: string): boolean {
  return patterns.some((pattern) => {
    if (pattern === "*" || pattern === eventType) return true;
    if (pattern.endsWith(".*")) return eventType.startsWith(pattern.slice(0, -1));
    return false;
  });
}

export function matchesLabels(filter: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(filter).every(([key, value]) => labels[key] === value);
}

/**
 * Event type names: parts of letters, digits, `_` and `-`, joined by dots — `invoice.paid`, `Invoice.Paid`,
 * `user-created.v1`, `ping` — Svix's set, so catalogues move over as they are (names were dotted lower-case only,
 * which refused `ping` and `user-created.v1`; sweep 18). Compared exactly, case included.
 */
export const EVENT_TYPE_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
/** A subscription pattern: an event type name, `prefix.*` (one or more parts under the prefix), or `*`. */
export const EVENT_TYPE_PATTERN = /^(\*|[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*(\.\*)?)$/;
