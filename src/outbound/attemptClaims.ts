/**
 * The attempts this process is making: one (delivery, attempt) goes out once at a time, whichever jobs carry it.
 *
 * Why: jobs skip an attempt already recorded, which covers a duplicate job that runs after the first has
 * finished, but not two that run at once. A manual retry of a delivery held by an open circuit queued a job
 * for the same attempt as the circuit's deferral, both came due at the circuit's retry time, and the receiver got
 * the attempt twice 4 ms apart with one outcome recorded (sweep 18). A claim is taken right before the send and
 * kept until the outcome is recorded; a job that finds the attempt claimed puts it off a second (attempt.ts), by
 * when the holder has recorded it, or failed to and released the claim.
 * Across processes the recorded attempt number still decides which outcome counts.
 */
import type { AppContext } from "../context.ts";

export class AttemptClaims {
  private readonly held = new Set<string>();

  /** True when this process was not making the attempt and now is. */
  claim(deliveryId: string, attempt: number): boolean {
    const key = `${deliveryId}#${attempt}`;
    if (this.held.has(key)) return false;
    this.held.add(key);
    return true;
  }

  release(deliveryId: string, attempt: number): void {
    this.held.delete(`${deliveryId}#${attempt}`);
  }
}

const claimsByContext = new WeakMap<AppContext, AttemptClaims>();

/** The claims of the process `ctx` runs in (one context per process; tests that build several get one each). */
export function attemptClaimsOf(ctx: AppContext): AttemptClaims {
  let claims = claimsByContext.get(ctx);
  if (!claims) claimsByContext.set(ctx, (claims = new AttemptClaims()));
  return claims;
}
