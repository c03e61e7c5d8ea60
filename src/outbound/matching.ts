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

/** Dotted lower-case names: `invoice.paid`, `user.profile_updated`. */
export const EVENT_TYPE_NAME = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
/** A subscription pattern: an event type name, `prefix.*`, or `*`. */
export const EVENT_TYPE_PATTERN = /^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\.\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$/;
