/**
 * Transactions Postgres undid because of a concurrent one, not because of anything in them: a deadlock (40P01),
 * which Postgres breaks by failing one side, and a serialization failure (40001). Run again, they can succeed.
 *
 * @example
 * if (rolledBackByConcurrency(error)) return await writeAgain();
 */
export function rolledBackByConcurrency(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "40P01" || code === "40001";
}
