/**
 * Appending to the ledger with optimistic concurrency.
 *
 * All streams of one call are written by a single SQL statement (`hookledger.append_entries`): fan-out appends a
 * new stream per delivery, and one round trip for 100 deliveries instead of 100 is what keeps ingestion fast.
 * The tenant is the transaction's (see db/tenant.ts); append never takes an org id it could get wrong.
 */
import type { Tx } from "../db/connect.ts";
import { systemEntryCatalogue, type EntryCatalogue, type NewEntry, type RecordedEntry } from "./catalogue.ts";
import { StreamVersionConflictError } from "./errors.ts";

/** The stream must not exist yet. */
export const STREAM_DOES_NOT_EXIST = "no_stream" as const;
/** No concurrency check: append at whatever version the stream is. */
export const ANY_VERSION = "any" as const;

/** A version number (the stream must be exactly there), `STREAM_DOES_NOT_EXIST`, or `ANY_VERSION`. */
export type ExpectedStreamVersion = number | typeof STREAM_DOES_NOT_EXIST | typeof ANY_VERSION;

export interface StreamAppend {
  stream: string;
  expectedStreamVersion: ExpectedStreamVersion;
  entries: NewEntry[];
}

const CONFLICT_SQLSTATE = "HL409";

function encodeExpected(expected: ExpectedStreamVersion): number {
  if (expected === STREAM_DOES_NOT_EXIST) return 0;
  if (expected === ANY_VERSION) return -1;
  if (!Number.isInteger(expected) || expected < 1) {
    throw new RangeError("expectedStreamVersion must be a positive integer, STREAM_DOES_NOT_EXIST or ANY_VERSION");
  }
  return expected;
}

interface PostgresErrorLike {
  code?: string;
  detail?: string;
}

/** The conflict a failed `append_entries` call reports, as StreamVersionConflictError; undefined for other errors. */
export function appendConflict(error: unknown, appends: StreamAppend[]): StreamVersionConflictError | undefined {
  const pgError = error as PostgresErrorLike;
  if (pgError?.code !== CONFLICT_SQLSTATE || !pgError.detail) return undefined;
  const detail = JSON.parse(pgError.detail) as { stream: string; actual: number | null };
  const expected = appends.find((item) => item.stream === detail.stream)?.expectedStreamVersion ?? ANY_VERSION;
  return new StreamVersionConflictError(detail.stream, expected, detail.actual ?? 0);
}

/** Appends encoded for `hookledger.append_entries`: one array per argument, entries checked against the catalogue. */
export interface EncodedAppends {
  streams: string[];
  expected: number[];
  counts: number[];
  /** Entries in stream order: `s` is the stream's index. */
  rows: { s: number; type: string; data: unknown; meta: unknown }[];
  validated: { type: string; data: unknown; meta: NewEntry["meta"] }[];
}

/** Checks every entry against the catalogue and lays the appends out as `append_entries` takes them. */
export function encodeAppends(appends: StreamAppend[], catalogue: EntryCatalogue = systemEntryCatalogue): EncodedAppends {
  const encoded: EncodedAppends = { streams: [], expected: [], counts: [], rows: [], validated: [] };
  const seen = new Set<string>();
  for (const item of appends) {
    if (item.entries.length === 0) continue;
    if (seen.has(item.stream)) throw new RangeError(`stream ${item.stream} appears twice in one append`);
    seen.add(item.stream);
    const index = encoded.streams.length;
    encoded.streams.push(item.stream);
    encoded.expected.push(encodeExpected(item.expectedStreamVersion));
    encoded.counts.push(item.entries.length);
    for (const entry of item.entries) {
      const clean = catalogue.validate(entry);
      encoded.rows.push({ s: index, type: entry.type, data: clean.data, meta: clean.meta });
      encoded.validated.push({ type: entry.type, data: clean.data, meta: clean.meta });
    }
  }
  return encoded;
}

/**
 * Appends entries to several streams in one statement. On a version conflict it throws
 * `StreamVersionConflictError`; the statement failed, so the surrounding transaction must roll back and nothing
 * of this call (or the transaction) is written. Entries are checked against `catalogue`: the ledger's own types
 * unless the caller passes the application's (the ledger built at start-up does).
 *
 * @example
 * await appendToStreams(tx, [
 *   { stream: `event:${id}`, expectedStreamVersion: STREAM_DOES_NOT_EXIST, entries: [received] },
 *   { stream: `delivery:${d}`, expectedStreamVersion: STREAM_DOES_NOT_EXIST, entries: [scheduled] },
 * ]);
 */
export async function appendToStreams(tx: Tx, appends: StreamAppend[], catalogue: EntryCatalogue = systemEntryCatalogue): Promise<RecordedEntry[]> {
  const { streams, expected, counts, rows, validated } = encodeAppends(appends, catalogue);
  if (rows.length === 0) return [];

  let result: { entry_position: string; entry_org_id: string; entry_stream: string; entry_version: number; entry_recorded_at: Date }[];
  try {
    result = await tx`
      select entry_position, entry_org_id, entry_stream, entry_version, entry_recorded_at
      from hookledger.append_entries(${streams}::text[], ${expected}::int[], ${counts}::int[], ${tx.json(rows as never)})`;
  } catch (error) {
    throw appendConflict(error, appends) ?? error;
  }
  // Positions are drawn in input order (the insert selects in ordinality order), so sorting by position
  // lines the rows up with the entries we sent.
  result.sort((a, b) => (BigInt(a.entry_position) < BigInt(b.entry_position) ? -1 : 1));
  return result.map((row, i) => {
    const source = validated[i];
    return {
      type: source?.type,
      data: source?.data,
      meta: source?.meta ?? {},
      orgId: row.entry_org_id,
      stream: row.entry_stream,
      version: row.entry_version,
      position: String(row.entry_position),
      recordedAt: row.entry_recorded_at,
    } as RecordedEntry;
  });
}

/**
 * Appends entries to one stream.
 *
 * @example
 * await append(tx, `organization:${id}`, STREAM_DOES_NOT_EXIST, [{ type: "organization.created", data }]);
 */
export function append(tx: Tx, stream: string, expectedStreamVersion: ExpectedStreamVersion, entries: NewEntry[], catalogue: EntryCatalogue = systemEntryCatalogue): Promise<RecordedEntry[]> {
  return appendToStreams(tx, [{ stream, expectedStreamVersion, entries }], catalogue);
}
