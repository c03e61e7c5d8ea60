/**
 * Requests answered 503 at once while the database is known to be unreachable.
 *
 * Why: postgres.js queues a query until a connection opens, and while Postgres is down each connection attempt waits
 * its back-off before it fails. Under load the queue outgrew the attempts: with 50 requests a second during a 41 s
 * outage the 503s took 0.35 s, then 6, 12 and 24 s, and requests made later waited until Postgres returned (a
 * hostile sweep, 2 API processes). Once a request has failed because the database could not be reached, later
 * ones are answered 503 (`unavailable`, Retry-After) without touching the pool, except one trial request at a time:
 * it waits for the pool's next connection attempt, and the first that does not fail that way says the database is
 * back (so the service serves again with the first request after Postgres returns).
 */
import type { Context, MiddlewareHandler } from "hono";
import { isDatabaseUnavailable } from "../db/unavailable.ts";
import type { HttpEnv } from "./env.ts";
import { databaseUnavailable } from "./problem.ts";

export class DatabaseDown {
  private down = false;
  private trialRunning = false;

  /** Notes an error a request ended with: one that says the database cannot be reached marks it down. */
  noteError(error: unknown): void {
    if (isDatabaseUnavailable(error)) this.down = true;
  }

  get isDown(): boolean {
    return this.down;
  }

  /**
   * @example
   * const databaseDown = new DatabaseDown();
   * v1.use(databaseDown.middleware()); // and databaseDown.noteError(error) in the error handler
   */
  middleware(): MiddlewareHandler<HttpEnv> {
    return async (c, next) => {
      if (!this.down) return next();
      if (this.trialRunning) throw databaseUnavailable();
      this.trialRunning = true;
      try {
        await next();
        if (!endedUnavailable(c)) this.down = false;
      } finally {
        this.trialRunning = false;
      }
    };
  }
}

/** Whether the request ended with the database unreachable (Hono keeps a handler's error on the context). */
function endedUnavailable(c: Context<HttpEnv>): boolean {
  return c.error !== undefined && isDatabaseUnavailable(c.error);
}

