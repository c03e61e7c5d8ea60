/**
 * The ledger as the rest of the code uses it: append and project in one step, rebuild projections, and the
 * pruners retention runs. The application builds it once at start-up from what each capability hands over.
 */
import type { Sql, Tx } from "../db/connect.ts";
import { withTenant } from "../db/tenant.ts";
import { append as appendOne, appendToStreams, encodeAppends, type EncodedAppends, type ExpectedStreamVersion, type StreamAppend } from "./append.ts";
import type { EntryCatalogue, EntryType, NewEntry, RecordedEntry } from "./catalogue.ts";
import type { HistoryPruner } from "./historyPruner.ts";
import { applyProjections, type Projection } from "./projection.ts";
import { ledgerColumns, toRecordedEntry, type LedgerRow } from "./rows.ts";

export interface Ledger {
  readonly projections: readonly Projection[];
  /** Run per tenant by retention, in this order. */
  readonly historyPruners: readonly HistoryPruner[];
  /** Appends to one stream and updates every projection, in the caller's transaction. */
  record(tx: Tx, stream: string, expectedStreamVersion: ExpectedStreamVersion, entries: NewEntry[]): Promise<RecordedEntry[]>;
  /** Appends to several streams in one statement and updates every projection. */
  recordMany(tx: Tx, appends: StreamAppend[]): Promise<RecordedEntry[]>;
  /**
   * Checks appends against the catalogue and lays them out for `hookledger.append_entries`, for a caller that
   * appends inside a SQL function of its own (ingest_batch) and projects there.
   */
  encode(appends: StreamAppend[]): EncodedAppends;
  /**
   * Whether exactly these projections (by name, any order) handle the entry type: a caller that projects inside a
   * SQL function of its own checks that it writes every read table the type touches.
   */
  projectedOnlyBy(type: EntryType, names: readonly string[]): boolean;
  /** Clears one projection for a tenant and replays that tenant's ledger into it, in one transaction. */
  rebuild(sql: Sql, orgId: string, projectionName: string): Promise<{ entries: number }>;
}

export class UnknownProjectionError extends Error {
  override readonly name = "UnknownProjectionError";
}

const REBUILD_PAGE = 1000;

export interface LedgerParts {
  /** Every entry type the application appends, with its schema. */
  entries: EntryCatalogue;
  /** Every projection, in the order they apply. */
  projections: readonly Projection[];
  historyPruners: readonly HistoryPruner[];
}

export function createLedger({ entries: catalogue, projections, historyPruners }: LedgerParts): Ledger {
  const byName = new Map(projections.map((projection) => [projection.name, projection]));
  return {
    projections,
    historyPruners,
    async record(tx, stream, expectedStreamVersion, entries) {
      const recorded = await appendOne(tx, stream, expectedStreamVersion, entries, catalogue);
      await applyProjections(tx, projections, recorded);
      return recorded;
    },
    async recordMany(tx, appends) {
      const recorded = await appendToStreams(tx, appends, catalogue);
      await applyProjections(tx, projections, recorded);
      return recorded;
    },
    encode: (appends) => encodeAppends(appends, catalogue),
    projectedOnlyBy(type, names) {
      const handling = projections.filter((projection) => projection.handles.includes(type)).map((projection) => projection.name);
      return handling.length === names.length && names.every((name) => handling.includes(name));
    },
    async rebuild(sql, orgId, projectionName) {
      const projection = byName.get(projectionName);
      if (!projection) {
        throw new UnknownProjectionError(`no projection named ${projectionName}; known: ${[...byName.keys()].join(", ")}`);
      }
      return withTenant(sql, orgId, async (tx) => {
        // Writers that append meanwhile block on these locks when they project; their ledger rows are not yet
        // committed, so we do not replay them, and they apply on top of the rebuilt rows once we commit.
        for (const table of projection.tables) {
          // Table names come from projection definitions in code, never from input.
          await tx.unsafe(`lock table ${table} in share row exclusive mode`);
        }
        await projection.clear(tx);
        let after = "0";
        let count = 0;
        for (;;) {
          const rows = await tx<LedgerRow[]>`
            select ${tx.unsafe(ledgerColumns)} from hookledger.ledger
            where org_id = hookledger.current_org_id() and type in ${tx(projection.handles as string[])}
              and position > ${after}::bigint
            order by position limit ${REBUILD_PAGE}`;
          if (rows.length === 0) break;
          await projection.apply(tx, rows.map(toRecordedEntry));
          count += rows.length;
          after = String(rows.at(-1)?.position);
        }
        return { entries: count };
      });
    },
  };
}
