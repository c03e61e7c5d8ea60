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

/**
 * The requests whose body is being read right now (a context lives as long as its request), each with how to stop
 * waiting for it.
 */
const arriving = new WeakMap<Context, (reason: unknown) => void>();

/** Whether the request of `c` is waiting for its body right now. */
export function isBodyArriving(c: Context): boolean {
  return arriving.has(c);
}

/**
 * Fails the read waiting for the body of `c`'s request, at once, with `reason`; nothing when no read waits. The request
 * timeout calls it once it has answered 408: on Node the read of a body whose answer went out first never ended (the
 * connection closed, but node:http no longer tracks a request it has answered, so its body stream neither ends nor
 * fails), and the handler waiting on it held its body, and its share of the body budget (bodyBudget.ts), for good.
 */
export function stopWaitingForBody(c: Context, reason: unknown): void {
  arriving.get(c)?.(reason);
}

/**
 * Runs `read`, which reads the request body, marked as waiting for the client; a read that fails because the
 * connection closed becomes 499 `client-closed-request`, and one the request timeout stopped fails with its reason.
 *
 * @example
 * const bytes = await whileBodyArrives(c, async () => new Uint8Array(await c.req.arrayBuffer()));
 */
export async function whileBodyArrives<T>(c: Context, read: () => Promise<T>): Promise<T> {
  let stop: (reason: unknown) => void = () => undefined;
  const stopped = new Promise<never>((_, reject) => {
    stop = reject;
  });
  arriving.set(c, stop);
  try {
    // race() handles a rejection of either promise after the other settled: none is left unhandled.
    return await Promise.race([read(), stopped]);
  } catch (error) {
    // Only the transport fails a read of a body (a second read is a TypeError, and stays one).
    if (!(error instanceof ProblemError) && (isConnectionAbort(error) || c.req.raw.signal.aborted)) throw clientClosedRequest();
    throw error;
  } finally {
    arriving.delete(c);
  }
}

/** The request body's bytes, read in one piece. */
export function readRequestBytes(c: Context): Promise<Uint8Array> {
  return whileBodyArrives(c, async () => new Uint8Array(await c.req.arrayBuffer()));
}
