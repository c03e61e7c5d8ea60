/**
 * Publishing an accepted webhook as an outbound event (fan-out to the application's subscriptions).
 *
 * Why a job rather than a call after the answer: the job is added in the transaction that records the receipt,
 * so once the sender has its 202 the publish cannot be lost to a crash. It is idempotent because the event id
 * is the receipt id: a re-run finds the event and `ingestEvent` answers it as a repeat.
 */
import type { Task } from "graphile-worker";
import * as v from "valibot";
import type { AppContext } from "../context.ts";
import { MAX_MEDIA_TYPE_LENGTH, MEDIA_TYPE } from "../http/fields.ts";
import { MAX_JSON_NESTING, nestsDeeperThan, numbersAllFinite, repeatedNames, underflowingNumbers } from "../http/inputRules.ts";
import type { Tx } from "../db/connect.ts";
import { withTenant } from "../db/tenant.ts";
import { ANY_VERSION } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { ingestEvent, IngestError, type IncomingEvent } from "../outbound/ingest.ts";
import type { EntryData } from "../ledger/catalogue.ts";
import { getReceipt, type ReceiptRow } from "./receiptStore.ts";
import { receiptStream } from "./streams.ts";

export const PUBLISH_TASK = "ingress_publish";
const CRASH_RETRIES = 10;

const payloadSchema = v.object({
  org_id: v.pipe(v.string(), v.uuid()),
  receipt_id: v.string(),
  app_id: v.pipe(v.string(), v.uuid()),
  event_type: v.string(),
});

/** Publish jobs for accepted receipts, one `add_jobs` call for the batch. */
export interface PendingPublish {
  receiptId: string;
  target: { app_id: string; event_type: string };
}

/** The jobs that publish receipts, keyed by receipt (a second add of one receipt's job replaces it). */
export function publishJobSpecs(orgId: string, publishes: PendingPublish[]) {
  return publishes.map(({ receiptId, target }) => ({
    identifier: PUBLISH_TASK,
    payload: { org_id: orgId, receipt_id: receiptId, ...target },
    job_key: `ingress_publish:${receiptId}`,
    max_attempts: CRASH_RETRIES,
  }));
}

export async function enqueuePublishes(tx: Tx, orgId: string, publishes: PendingPublish[]): Promise<void> {
  if (publishes.length === 0) return;
  await tx`select hookledger.enqueue_jobs(${tx.json(publishJobSpecs(orgId, publishes))})`;
}

// ignoreBOM: a leading byte-order mark is part of the body, kept in the text (the default strips it, so the event
// and its deliveries lost three bytes the sender sent).
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Text when the bytes are UTF-8 without NUL (which a Postgres text column refuses), else undefined. */
function asText(body: Buffer): string | undefined {
  try {
    const text = utf8.decode(body);
    return text.includes("\0") ? undefined : text;
  } catch {
    return undefined;
  }
}

/** The outbound event for a receipt: JSON and text bodies stay text, anything else travels as base64. */
export function eventFromReceipt(receipt: ReceiptRow, target: { app_id: string; event_type: string }): IncomingEvent {
  const contentType = receipt.content_type ?? "application/octet-stream";
  const text = asText(receipt.body);
  const common = { appId: target.app_id, eventId: receipt.receipt_id, eventType: target.event_type, contentType, labels: { ingress_route: receipt.route_id }, occurredAt: receipt.received_at };
  if (text !== undefined && /[/+]json\s*(;|$)/i.test(contentType)) {
    try {
      const parsed = JSON.parse(text) as unknown;
      // Deeper than events may nest (the fingerprint and schema checks recurse), holding a number JavaScript
      // reads as Infinity (the event's JSON would show it as null) or as 0 (`1e-400`), or naming a member twice in
      // one object (the schema would judge the last, a receiver may read the first): delivered as text,
      // byte-exact, and shown so.
      const safe = !nestsDeeperThan(parsed, MAX_JSON_NESTING) && numbersAllFinite(parsed) && underflowingNumbers(text).length === 0 && repeatedNames(text).length === 0;
      if (safe) return { ...common, encoding: "json", payload: text, parsedPayload: parsed };
    } catch {
      // Not JSON after all: delivered as text, byte-exact.
    }
  }
  if (text !== undefined) return { ...common, encoding: "text", payload: text };
  return { ...common, encoding: "base64", payload: receipt.body.toString("base64") };
}

/** Why a receipt was not published (the reasons `ingress.publish_failed` may name, entries.ts). */
export type PublishFailureReason = EntryData<"ingress.publish_failed">["reason"];

/**
 * Why a receipt cannot become an event, if it cannot; checked before the body is parsed. It is recorded and queued
 * as it came either way.
 * - `payload_too_large`: a route may accept bodies up to its `max_body_bytes` (at most
 *   HOOKLEDGER_INGRESS_MAX_BODY_BYTES, 10 MB by default), but HOOKLEDGER_MAX_EVENT_BYTES bounds every event, as
 *   POST /v1/events enforces with 413: without this a route published 10 MB events, stored, fanned out and retried
 *   to every subscriber. The payload is the body byte-exact whatever its encoding, so its size is the body's.
 * - `invalid_content_type`: a Content-Type POST /v1/events would refuse became the event's, and so every delivery's
 *   header: with a DEL byte in it each attempt failed before it was sent, and the endpoint's circuit opened.
 * - `content_encoded`: a body sent with `Content-Encoding: gzip` (or any coding but identity) was published as its
 *   compressed bytes under the uncompressed type, and delivered without the coding, so no receiver could read it.
 *   Decompressing is not done: a small body could expand past every limit.
 */
export function unpublishable(receipt: Pick<ReceiptRow, "body" | "content_type" | "headers">, maxEventBytes: number): PublishFailureReason | undefined {
  if (receipt.body.byteLength > maxEventBytes) return "payload_too_large";
  const contentType = receipt.content_type;
  if (contentType !== null && (contentType.length > MAX_MEDIA_TYPE_LENGTH || !MEDIA_TYPE.test(contentType))) return "invalid_content_type";
  const coding = receipt.headers["content-encoding"];
  if (coding !== undefined && !/^\s*identity\s*$/i.test(coding)) return "content_encoded";
  return undefined;
}

/** Records why a receipt was not published; the receipt itself stays as it was accepted (and queued, if so). */
async function recordPublishFailure(ctx: AppContext, orgId: string, receiptId: string, reason: PublishFailureReason, meta: EntryMeta): Promise<void> {
  await withTenant(ctx.sql, orgId, (tx) =>
    ctx.ledger.record(tx, receiptStream(receiptId), ANY_VERSION, [{ type: "ingress.publish_failed", data: { receipt_id: receiptId, reason }, meta }]),
  );
}

export function publishTask(ctx: AppContext): Task {
  return async (payload) => {
    const job = v.parse(payloadSchema, payload);
    const meta: EntryMeta = { actor: { kind: "worker" } };
    const receipt = await withTenant(ctx.sql, job.org_id, (tx) => getReceipt(tx, job.receipt_id));
    if (!receipt) return;
    const refusal = unpublishable(receipt, ctx.config.HOOKLEDGER_MAX_EVENT_BYTES);
    if (refusal) {
      // Retrying cannot change the receipt; record why and stop.
      ctx.log.warn("ingress publish failed", { receipt_id: job.receipt_id, reason: refusal, body_bytes: receipt.body.byteLength });
      await recordPublishFailure(ctx, job.org_id, job.receipt_id, refusal, meta);
      return;
    }
    try {
      await ingestEvent(ctx, job.org_id, eventFromReceipt(receipt, job), meta);
    } catch (error) {
      if (!(error instanceof IngestError)) throw error;
      // Retrying cannot fix a deleted event type or a payload its schema refuses; record why and stop.
      // A route publishes to an application by id: never a uid that can move (uid_moved cannot happen here).
      const reason = error.failure.kind === "uid_moved" ? "unknown_application" : error.failure.kind;
      ctx.log.warn("ingress publish failed", { receipt_id: job.receipt_id, reason });
      await recordPublishFailure(ctx, job.org_id, job.receipt_id, reason, meta);
    }
  };
}
