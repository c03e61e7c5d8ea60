/**
 * Awaiting statements sent together on one transaction.
 *
 * postgres.js pipelines the statements of a transaction: issued without awaiting each, they travel in one round
 * trip. When one fails, every statement behind it fails too, with 25P02 (the transaction is aborted). `Promise.all`
 * rejects with whichever rejection it sees first, and that can be a 25P02 behind the real failure while the caller's
 * own handling of that failure (the ledger turning a raw HL409 into a StreamVersionConflictError) is still a few
 * microtasks away; postgres.js's transaction then swaps the 25P02 for the raw first error. Callers that tell a lost
 * race from a real error by the error's class saw the raw one now and then, and answered 500 for a conflict.
 */

/**
 * Resolves with every statement's result, in order; or, once all have settled, rejects with the error of the first
 * one (in the order they were sent) that failed, the one that aborted the transaction.
 *
 * @example
 * const [recorded] = await sentTogether([ctx.ledger.recordMany(tx, appends), enqueueDeliveries(tx, orgId, deliveries, now)]);
 */
export async function sentTogether<T extends readonly unknown[]>(statements: { readonly [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(statements);
  const values: unknown[] = [];
  for (const outcome of settled) {
    if (outcome.status === "rejected") throw outcome.reason;
    values.push(outcome.value);
  }
  return values as unknown as T;
}
