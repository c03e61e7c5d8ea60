/** Typed failures of ledger operations; callers map them to HTTP or task outcomes. */

/** The stream was not at the version the caller expected: someone else appended first. Nothing was written. */
export class StreamVersionConflictError extends Error {
  override readonly name = "StreamVersionConflictError";
  constructor(
    readonly stream: string,
    readonly expectedVersion: number | "any" | "no_stream",
    readonly actualVersion: number,
  ) {
    super(`stream ${stream} is at version ${actualVersion}, expected ${String(expectedVersion)}`);
  }
}

/** An entry's type is not in the catalogue, or its data does not match the type's schema. Nothing was written. */
export class InvalidEntryError extends Error {
  override readonly name = "InvalidEntryError";
  constructor(
    readonly entryType: string,
    readonly problems: string[],
  ) {
    super(`invalid ledger entry ${entryType}: ${problems.join("; ")}`);
  }
}
