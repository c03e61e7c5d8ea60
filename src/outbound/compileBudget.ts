/**
 * How much compiling of payload schemas one organization may cause, per process: HOOKLEDGER_SCHEMA_COMPILE_MS of the
 * event loop (DEFAULT_COMPILE_MS_PER_WINDOW unless set) every WINDOW_MS. Past it, what would compile another schema
 * is answered 429 `rate-limited` with Retry-After (creating or changing an event type, an event whose schema is not
 * compiled), and what the cache already holds keeps working. The time is the clock's: a slower or busier machine
 * reaches the budget with fewer schemas, which is why an instance can set it.
 *
 * Why: Ajv compiles on the event loop, 0.15-0.5 s for a large schema within the compile budget. One tenant PATCHing a
 * schema in a loop (each a fresh text), or sending events round robin to more large event types than the
 * compiled-schema cache holds, compiled on every request and held every tenant's requests up to 1.4 s at a time
 * (sweep 19). An organization's ordinary use compiles each schema once.
 */
import { ProblemError } from "../http/problem.ts";

const WINDOW_MS = 10_000;
export const DEFAULT_COMPILE_MS_PER_WINDOW = 1_500;

export class CompileBudget {
  private readonly spent = new Map<string, { since: number; ms: number }>();

  /** @throws ProblemError (429) when `owner` has used its `limitMs` of compiling for the window. */
  assertRoom(owner: string, limitMs = DEFAULT_COMPILE_MS_PER_WINDOW, now = performance.now()): void {
    const entry = this.current(owner, now);
    if (entry.ms < limitMs) return;
    const retryAfter = Math.max(1, Math.ceil((entry.since + WINDOW_MS - now) / 1000));
    throw new ProblemError("rate-limited", `this organization's payload schemas were compiled for more than ${limitMs} ms in ${WINDOW_MS / 1000} s; retry in ${retryAfter} s (each schema compiles once while it stays cached: change schemas less often, or use fewer large ones at a time)`, {
      headers: { "Retry-After": String(retryAfter) },
      retry_after_seconds: retryAfter,
    });
  }

  /** Counts a compile of `ms` against `owner`. */
  spend(owner: string, ms: number, now = performance.now()): void {
    this.current(owner, now).ms += ms;
  }

  private current(owner: string, now: number): { since: number; ms: number } {
    let entry = this.spent.get(owner);
    if (!entry || now - entry.since >= WINDOW_MS) {
      if (this.spent.size > 10_000) this.forgetOld(now);
      this.spent.set(owner, (entry = { since: now, ms: 0 }));
    }
    return entry;
  }

  private forgetOld(now: number): void {
    for (const [owner, entry] of this.spent) if (now - entry.since >= WINDOW_MS) this.spent.delete(owner);
  }
}
