/** Reads of the ingress_receipts projection: accepted requests, newest first. */
import type { Queryable } from "../db/connect.ts";

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

export async function listReceipts(
  tx: Queryable,
  routeId: string,
  options: { limit: number; after?: { receivedAt: string; id: string } },
): Promise<ReceiptRow[]> {
  return tx<ReceiptRow[]>`
    select ${tx.unsafe(columns)} from hookledger.ingress_receipts
    where org_id = hookledger.current_org_id() and route_id = ${routeId}
      ${options.after ? tx`and (received_at, receipt_id) < (${options.after.receivedAt}::timestamptz, ${options.after.id})` : tx``}
    order by received_at desc, receipt_id desc limit ${options.limit + 1}`;
}
