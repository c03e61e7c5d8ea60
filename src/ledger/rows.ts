/** Maps ledger rows to `RecordedEntry` (one place, shared by every reader). */
import type { RecordedEntry } from "./catalogue.ts";

export interface LedgerRow {
  org_id: string;
  position: string;
  stream: string;
  version: number;
  type: string;
  data: unknown;
  meta: unknown;
  recorded_at: Date;
}

export const ledgerColumns = "org_id, position, stream, version, type, data, meta, recorded_at";

export function toRecordedEntry(row: LedgerRow): RecordedEntry {
  return {
    type: row.type,
    data: row.data,
    meta: row.meta ?? {},
    orgId: row.org_id,
    stream: row.stream,
    version: row.version,
    position: String(row.position),
    recordedAt: row.recorded_at,
  } as RecordedEntry;
}
