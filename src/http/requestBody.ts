/**
 * Reading a request's body, in one place for every route that reads one (validate.ts, the body limit in limits.ts):
 * - while the body is still arriving, the request timeout blames the client — 408 `request-timeout`, not the 503
 *   `timeout` of a handler that is slow on our side (limits.ts asks `isBodyArriving`);
 * - a client that closes its connection mid-body is 499 `client-closed-request`, not an unhandled error.
 *
 * Doors that read their body themselves mark the read with `whileBodyArrives` to get both.
 */
import type { Context } from "hono";
import { clientClosedRequest, isConnectionAbort, ProblemError } from "./problem.ts";

/** The contexts of requests whose body is being read right now (a context lives as long as its request). */
const arriving = new WeakSet<Context>();

/** Marks (or unmarks) the request of `c` as waiting for its body to arrive. */
export function markBodyArriving(c: Context, waiting: boolean): void {
  if (waiting) arriving.add(c);
  else arriving.delete(c);
}

/** Whether the request of `c` is waiting for its body right now. */
export function isBodyArriving(c: Context): boolean {
  return arriving.has(c);
}

/**
 * Runs `read`, which reads the request body, marked as waiting for the client; a read that fails because the
 * connection closed becomes 499 `client-closed-request`.
 *
 * @example
 * const bytes = await whileBodyArrives(c, async () => new Uint8Array(await c.req.arrayBuffer()));
 */
export async function whileBodyArrives<T>(c: Context, read: () => Promise<T>): Promise<T> {
  markBodyArriving(c, true);
  try {
    return await read();
  } catch (error) {
    // Only the transport fails a read of a body (a second read is a TypeError, and stays one).
    if (!(error instanceof ProblemError) && (isConnectionAbort(error) || c.req.raw.signal.aborted)) throw clientClosedRequest();
    throw error;
  } finally {
    markBodyArriving(c, false);
  }
}

/** The request body's bytes, read in one piece. */
export function readRequestBytes(c: Context): Promise<Uint8Array> {
  return whileBodyArrives(c, async () => new Uint8Array(await c.req.arrayBuffer()));
}
