/**
 * Receiving one webhook on `POST /in/{route_id}` or `POST /in/{org_id}/{path}`: find the route, check the size,
 * authenticate, then — in ONE transaction — remember the nonce, append `ingress.received` (plus
 * `pull.message_enqueued` when the route feeds a queue) and add the publish job. The caller answers 202 only after
 * that commits.
 *
 * No transaction is open while the body is read or while forward auth calls out: a slow sender or auth service
 * must not pin a pooled connection. Refusals are counted (rejections.ts), never appended.
 */
import { createHash, randomUUID } from "node:crypto";
import * as v from "valibot";
import type { AppContext } from "../context.ts";
import type { Sql, Tx } from "../db/connect.ts";
import { withTenant } from "../db/tenant.ts";
import { uuidField } from "../http/fields.ts";
import { STREAM_DOES_NOT_EXIST, type StreamAppend } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { authenticateRequest, type Verification } from "./authenticateRequest.ts";
import { routePathField } from "./fields.ts";
import { newReceiptId, ROUTE_ID_PATTERN } from "./ids.ts";
import { enqueuePublish } from "./publishTask.ts";
import { countRejection, type RejectionReason } from "./rejections.ts";
import { rememberNonce } from "./replayGuard.ts";
import { headersForLedger } from "./requestHeaders.ts";
import { secretsForVerification } from "./routeSecrets.ts";
import { findRouteByPath, findRouteTenant, getRoute, type IngressRouteRow } from "./routeStore.ts";
import { pullMessageStream, receiptStream } from "./streams.ts";
import { DEFAULT_TOLERANCE_SECONDS } from "./verifiers/types.ts";

/** How the URL names the route: by its public id, or by its organization's id and its custom path. */
export type ReceiveTarget = { routeId: string } | { orgId: string; path: string };

export interface IncomingRequest {
  target: ReceiveTarget;
  method: string;
  /** Path and query as received, for forward auth. */
  path: string;
  headers: Headers;
  /** The body, or undefined when it is longer than `maxBytes` (reading stops there). */
  readBody(maxBytes: number): Promise<Uint8Array | undefined>;
  clientIp: string;
  /** Request id, client address and user agent for the entries; no actor (the sender is not a token). */
  meta: EntryMeta;
}

export type ReceiveOutcome =
  | { kind: "accepted"; receiptId: string }
  | { kind: "not_found" }
  | { kind: "rejected"; status: 401 | 403 | 413 | 503; reason: RejectionReason; maxBytes?: number };

class ReplayedNonce extends Error {}

/** Appends the receipt (and its queue message) and adds the publish job, in the caller's transaction. */
async function recordReceipt(
  ctx: AppContext,
  tx: Tx,
  input: { orgId: string; route: IngressRouteRow; receiptId: string; headers: Headers; rawBody: Uint8Array; verification: Verification; meta: EntryMeta },
): Promise<void> {
  const { route, receiptId, meta } = input;
  const publish = route.publish_app_id && route.publish_event_type ? { app_id: route.publish_app_id, event_type: route.publish_event_type } : null;
  const appends: StreamAppend[] = [
    {
      stream: receiptStream(receiptId),
      expectedStreamVersion: STREAM_DOES_NOT_EXIST,
      entries: [
        {
          type: "ingress.received",
          data: {
            receipt_id: receiptId,
            route_id: route.route_id,
            content_type: input.headers.get("content-type"),
            headers: headersForLedger(input.headers, route.auth),
            body_base64: Buffer.from(input.rawBody).toString("base64"),
            body_sha256: createHash("sha256").update(input.rawBody).digest("hex"),
            verification: input.verification,
            publish,
            queue: route.queue,
          },
          meta,
        },
      ],
    },
  ];
  if (route.queue) {
    const messageId = randomUUID();
    appends.push({
      stream: pullMessageStream(messageId),
      expectedStreamVersion: STREAM_DOES_NOT_EXIST,
      entries: [{ type: "pull.message_enqueued", data: { message_id: messageId, queue: route.queue, receipt_id: receiptId }, meta }],
    });
  }
  await ctx.ledger.recordMany(tx, appends);
  if (publish) await enqueuePublish(tx, input.orgId, receiptId, publish);
}

/**
 * The route a URL names and its tenant, or undefined, alike for a malformed id, org id or path and for one that
 * names nothing: the answer must not tell which part was wrong. Malformed input never reaches Postgres.
 */
async function findTarget(sql: Sql, target: ReceiveTarget): Promise<{ orgId: string; routeId: string } | undefined> {
  if ("routeId" in target) {
    if (!ROUTE_ID_PATTERN.test(target.routeId)) return undefined;
    const orgId = await findRouteTenant(sql, target.routeId);
    return orgId ? { orgId, routeId: target.routeId } : undefined;
  }
  if (!v.is(uuidField, target.orgId) || !v.is(routePathField, target.path)) return undefined;
  const orgId = target.orgId.toLowerCase();
  const routeId = await findRouteByPath(sql, orgId, target.path);
  return routeId ? { orgId, routeId } : undefined;
}

export async function receiveWebhook(ctx: AppContext, request: IncomingRequest): Promise<ReceiveOutcome> {
  const found = await findTarget(ctx.sql, request.target);
  if (!found) return { kind: "not_found" };
  const { orgId, routeId } = found;
  const now = ctx.now();
  const loaded = await withTenant(ctx.sql, orgId, async (tx) => {
    const route = await getRoute(tx, routeId);
    if (!route?.enabled) return undefined;
    const toleranceMs = (route.auth.type === "hmac" ? route.auth.tolerance_seconds : DEFAULT_TOLERANCE_SECONDS) * 1000;
    const secrets = route.auth.type === "forward" ? [] : await secretsForVerification(tx, ctx.keyring, routeId, new Date(now.getTime() - toleranceMs));
    return { route, secrets };
  });
  if (!loaded) return { kind: "not_found" };
  const { route, secrets } = loaded;
  const reject = async (status: 401 | 403 | 413 | 503, reason: RejectionReason): Promise<ReceiveOutcome> => {
    ctx.metrics.ingressVerifications.inc({ result: reason });
    ctx.log.debug("ingress request refused", { route_id: routeId, reason, request_id: request.meta.request_id });
    await countRejection(ctx.sql, orgId, routeId, reason, now);
    return { kind: "rejected", status, reason, ...(status === 413 ? { maxBytes: route.max_body_bytes } : {}) };
  };

  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > route.max_body_bytes) return reject(413, "too_large");
  const rawBody = await request.readBody(route.max_body_bytes);
  if (!rawBody) return reject(413, "too_large");

  const auth = await authenticateRequest(ctx.egress, route, secrets, { headers: request.headers, rawBody, method: request.method, path: request.path, clientIp: request.clientIp }, now);
  if (!auth.ok) return reject(auth.status, auth.reason);

  const receiptId = newReceiptId();
  try {
    await withTenant(ctx.sql, orgId, async (tx) => {
      if (auth.nonce && !(await rememberNonce(tx, routeId, auth.nonce.value, auth.nonce.expiresAt, now))) throw new ReplayedNonce();
      await recordReceipt(ctx, tx, { orgId, route, receiptId, headers: request.headers, rawBody, verification: auth.verification, meta: request.meta });
    });
  } catch (error) {
    if (error instanceof ReplayedNonce) return reject(401, "replayed");
    throw error;
  }
  ctx.metrics.ingressVerifications.inc({ result: "accepted" });
  return { kind: "accepted", receiptId };
}
