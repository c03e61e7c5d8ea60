/**
 * When to try a failed delivery again.
 *
 * The default schedule is close to Hook0's (3s, 10s, 3m, 30m, 1h, 3h, 5h, then 10h until the attempt limit), per
 * subscription overridable. Jitter spreads retries of many deliveries that failed together (an endpoint outage)
 * so they do not return as one thundering herd. A `Retry-After` on 429/503 is honoured when it asks for longer,
 * up to a cap, so one endpoint cannot park its deliveries for days.
 */

export interface RetryPolicy {
  /** Delay in seconds before attempt n+1, for n = 1…; the last entry repeats. */
  scheduleSeconds: readonly number[];
  maxAttempts: number;
  jitterPercent: number;
  retryAfterMaxSeconds: number;
  minDelayMs: number;
}

/** Parses a Retry-After header: delay seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now.getTime()) / 1000));
}

/**
 * The time of the next attempt after `attemptsMade` failed attempts, or undefined when they are exhausted.
 *
 * @example
 * nextAttemptAt(policy, 1, new Date(), { statusCode: 503, retryAfter: "120" }); // ≥ now + 120 s
 */
export function nextAttemptAt(
  policy: RetryPolicy,
  attemptsMade: number,
  now: Date,
  response: { statusCode: number | null; retryAfter?: string },
  random: () => number = Math.random,
): Date | undefined {
  if (attemptsMade >= policy.maxAttempts) return undefined;
  const schedule = policy.scheduleSeconds.length > 0 ? policy.scheduleSeconds : [60];
  const base = schedule[Math.min(attemptsMade - 1, schedule.length - 1)] ?? 60;
  let delayMs = base * 1000 * (1 + (random() * policy.jitterPercent) / 100);
  if (response.statusCode === 429 || response.statusCode === 503) {
    const retryAfter = parseRetryAfter(response.retryAfter, now);
    if (retryAfter !== undefined) delayMs = Math.max(delayMs, Math.min(retryAfter, policy.retryAfterMaxSeconds) * 1000);
  }
  return new Date(now.getTime() + Math.max(policy.minDelayMs, Math.round(delayMs)));
}
