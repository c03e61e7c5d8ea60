/** Reads of the ingress_receipts projection: accepted requests, newest first. */
import type { Queryable } from "../db/connect.ts";
import { pageWithinBudget } from "../http/pagination.ts";

export interface ReceiptRow {
  receipt_id: string;
  route_id: string;
  content_type: string | null;
  headers: Record<string, string>;
  body: Buffer;
  body_sha256: string;
  verification: Record<string, string>;
  received_at: Date;
}

const columns = "receipt_id, route_id, content_type, headers, body, body_sha256, verification, received_at";

export async function getReceipt(tx: Queryable, receiptId: string): Promise<ReceiptRow | undefined> {
  const [row] = await tx<ReceiptRow[]>`
    select ${tx.unsafe(columns)} from hookledger.ingress_receipts where org_id = hookledger.current_org_id() and receipt_id = ${receiptId}`;
  return row;
}

/** Bodies one page of receipts carries at most (the first receipt of a page always comes, whatever its size). */
export const MAX_PAGE_BODY_BYTES = 8 * 1024 * 1024;

/**
 * A page of a route's receipts, newest first: at most `limit`, and no more than MAX_PAGE_BODY_BYTES of bodies — a
 * route may accept 10 MB bodies, and 250 of them in one answer (2.5 GB) would be read into memory and encoded on
 * the event loop. `rows` holds one receipt more than the page when there are more (for its cursor); `pageSize` is
 * the page's size, `limit` or fewer when the bodies filled it first. Bodies past the page are never read: a row
 * beyond the budget comes without its body (octet_length reads a stored value's size from its header). A page's
 * bodies add up to MAX_PAGE_BODY_BYTES at most, but for a first one larger than that on its own.
 */
export async function listReceipts(
  tx: Queryable,
  routeId: string,
  options: { limit: number; after?: { receivedAt: string; id: string } },
): Promise<{ rows: ReceiptRow[]; pageSize: number }> {
  const rows = await tx<(Omit<ReceiptRow, "body"> & { body: Buffer | null })[]>`
    select receipt_id, route_id, content_type, headers, case when through <= ${MAX_PAGE_BODY_BYTES} or through = octet_length(body) then body end as body,
           body_sha256, verification, received_at
    from (
      select *, sum(octet_length(body)) over (order by received_at desc, receipt_id desc rows between unbounded preceding and current row) as through
      from hookledger.ingress_receipts
      where org_id = hookledger.current_org_id() and route_id = ${routeId}
        ${options.after ? tx`and (received_at, receipt_id) < (${options.after.receivedAt}::timestamptz, ${options.after.id})` : tx``}
      order by received_at desc, receipt_id desc limit ${options.limit + 1}
    ) page
    order by received_at desc, receipt_id desc`;
  const cut = pageWithinBudget(rows, (row) => row.body === null, options.limit);
  return { rows: cut.rows as ReceiptRow[], pageSize: cut.pageSize };
}
