/**
 * Which subscriptions an event goes to: event-type patterns (exact names, `invoice.*` for one or more segments
 * under `invoice`, `*` for everything), a label filter (the event's labels must contain every key/value of
 * the subscription's) and channels (Svix's: a subscription with channels gets only events that carry one of them).
 */

/** What a subscription filters events by. `channels` null (or absent): events whatever their channels. */
export interface SubscriptionFilter {
  event_types: readonly string[];
  labels: Readonly<Record<string, string>>;
  channels?: readonly string[] | null | undefined;
}

/** What of an event the filters read. */
export interface EventFacts {
  eventType: string;
  labels: Readonly<Record<string, string>>;
  channels?: readonly string[] | null | undefined;
}

/** Whether the event goes to a subscription with this filter: its type, its labels and its channels all match. */
export function matchesSubscription(filter: SubscriptionFilter, event: EventFacts): boolean {
  return matchesEventType(filter.event_types, event.eventType) && matchesLabels(filter.labels, event.labels) && matchesChannels(filter.channels, event.channels);
}

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
 * Any-of: a subscription without channels (null or none) takes every event; one with channels takes an event that
 * carries at least one of them, and never an event without channels.
 */
export function matchesChannels(filter: readonly string[] | null | undefined, channels: readonly string[] | null | undefined): boolean {
  if (!filter || filter.length === 0) return true;
  if (!channels || channels.length === 0) return false;
  return channels.some((channel) => filter.includes(channel));
}

/**
 * Event type names: parts of letters, digits, `_` and `-`, joined by dots — `invoice.paid`, `Invoice.Paid`,
 * `user-created.v1`, `ping` — Svix's set, so catalogues move over as they are (names were dotted lower-case only,
 * which refused `ping` and `user-created.v1`; sweep 18). Compared exactly, case included.
 */
export const EVENT_TYPE_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
/** A subscription pattern: an event type name, `prefix.*` (one or more parts under the prefix), or `*`. */
export const EVENT_TYPE_PATTERN = /^(\*|[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*(\.\*)?)$/;
/** A channel name: Svix's rule, letters, digits and `_ . : -` (at most MAX_CHANNEL_NAME of them), compared exactly. */
export const CHANNEL_NAME = /^[a-zA-Z0-9\-_.:]+$/;
export const MAX_CHANNEL_NAME = 128;
/** Channels an event carries, or a subscription lists, at most. */
export const MAX_CHANNELS = 10;
