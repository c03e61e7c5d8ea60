/**
 * Receiving webhooks on `POST /in/{route_id}` or `POST /in/{org_id}/{path}`: find the route, check the size,
 * authenticate, then remember the nonce, append `ingress.received` (naming the pull message it enqueues when the
 * route feeds a queue, sql/073) and add the publish job, in one transaction. The caller answers 202 only after that commits.
 *
 * In batches: routes and their secrets come from this process's cache (routeCache.ts); on a miss, concurrent
 * requests of one organization load them with two reads sent together (no transaction). Requests are recorded
 * together (group commit, db/groupCommit.ts), in one statement when they can.
 * Measured before batching: 549 receipts/s from 16 GitHub-signed clients, three transactions per request.
 *
 * No transaction is open while the body is read or while forward auth calls out: a slow sender or auth service
 * must not pin a pooled connection. Refusals are counted (rejections.ts), never appended.
 */
import { createHash, randomUUID } from "node:crypto";
import * as v from "valibot";
import type { AppContext } from "../context.ts";
import type { Sql } from "../db/connect.ts";
import { GroupCommit, type ItemOutcome } from "../db/groupCommit.ts";
import { withTenant } from "../db/tenant.ts";
import { sentTogether } from "../db/sentTogether.ts";
import { uuidField } from "../http/fields.ts";
import { STREAM_DOES_NOT_EXIST, type StreamAppend } from "../ledger/append.ts";
import type { EntryMeta } from "../ledger/entryMeta.ts";
import { jobWakeupsFor } from "../outbound/jobWakeups.ts";
import { authenticateRequest, type Verification } from "./authenticateRequest.ts";
import { routePathField } from "./fields.ts";
import { newReceiptId, ROUTE_ID_PATTERN } from "./ids.ts";
import { enqueuePublishes, publishJobSpecs } from "./publishTask.ts";
import { rejectionCounter, type RejectionReason } from "./rejections.ts";
import { inClaimOrder, nonceHash, PURGE_BATCH, rememberNonces } from "./replayGuard.ts";
import { headersForLedger } from "./requestHeaders.ts";
import { MAX_TOLERANCE_MS, secretsAt, toleranceMsOf, type IngressRouteCache, type LoadedRoute } from "./routeCache.ts";
import { routeSecretRowsOf, secretsForVerificationFrom } from "./routeSecrets.ts";
import { findRouteByPath, findRouteTenant, getRoutesOf, type IngressRouteRow } from "./routeStore.ts";
import { receiptStream } from "./streams.ts";

/** How the URL names the route: by its public id, or by its organization's id and its custom path. */
export type ReceiveTarget = { routeId: string } | { orgId: string; path: string };

export interface IncomingRequest {
  target: ReceiveTarget;
  method: string;
  /** Path and query as received, for forward auth. */
  path: string;
  headers: Headers;
  /**
   * The body, or undefined when it is longer than `maxBytes` (reading stops there); throws 503 `overloaded`, unread,
   * when the process holds too many bodies already (src/http/bodyBudget.ts).
   */
  readBody(maxBytes: number): Promise<Uint8Array | undefined>;
  clientIp: string;
  /** `http` or `https`, as the client used it (through trusted proxies: as they say). */
  scheme: "http" | "https";
  /**
   * Request id, client address, user agent and, over mutual TLS, the verified client certificate's subject
   * (`connection_identity`) for the entries; no actor (the sender is not a token).
   */
  meta: EntryMeta;
}

export type ReceiveOutcome =
  | { kind: "accepted"; receiptId: string }
  /** Authenticated, and its nonce seen within the tolerance: the sender's retry of what is recorded, not recorded again. */
  | { kind: "duplicate" }
  | { kind: "not_found" }
  | { kind: "rejected"; status: 401 | 403 | 413 | 503; reason: RejectionReason; maxBytes?: number };

/** A verified request, ready to be recorded. */
interface VerifiedReceipt {
  route: IngressRouteRow;
  receiptId: string;
  headers: Headers;
  rawBody: Uint8Array;
  verification: Verification;
  nonce?: { value: string; expiresAt: Date } | undefined;
  meta: EntryMeta;
}

/**
 * How the receipt was authenticated, with the connection's verified client certificate when its meta names one:
 * the same subject the ledger meta records as `connection_identity` (for every change made over a mutual TLS
 * connection), kept in `verification` too because that is what the receipt row, and GET …/receipts, show of it.
 */
function receiptVerification(receipt: VerifiedReceipt): Verification {
  const identity = receipt.meta.connection_identity;
  return identity === undefined ? receipt.verification : { ...receipt.verification, connection_identity: identity };
}

/** The receipt's entry, `ingress.received`, naming the pull message it enqueues when the route feeds a queue. */
function receiptAppend(receipt: VerifiedReceipt): StreamAppend {
  const { route, receiptId, meta } = receipt;
  return {
    stream: receiptStream(receiptId),
    expectedStreamVersion: STREAM_DOES_NOT_EXIST,
    entries: [
      {
        type: "ingress.received",
        data: {
          receipt_id: receiptId,
          route_id: route.route_id,
          content_type: receipt.headers.get("content-type"),
          headers: headersForLedger(receipt.headers, route.auth),
          body_base64: Buffer.from(receipt.rawBody).toString("base64"),
          body_sha256: createHash("sha256").update(receipt.rawBody).digest("hex"),
          verification: receiptVerification(receipt),
          publish: publishTarget(route),
          queue: route.queue,
          // Undefined without a queue: JSON leaves the key out of the entry.
          message_id: route.queue ? randomUUID() : undefined,
        },
        meta,
      },
    ],
  };
}

const publishTarget = (route: IngressRouteRow) =>
  route.publish_app_id && route.publish_event_type ? { app_id: route.publish_app_id, event_type: route.publish_event_type } : null;

/**
 * Records a batch of one organization's verified receipts in one transaction: nonces, entries and publish jobs,
 * one statement each. Answers, per receipt, whether it was recorded (false: its nonce was a replay).
 */
async function recordReceipts(ctx: AppContext, orgId: string, receipts: VerifiedReceipt[]): Promise<ItemOutcome<boolean>[]> {
  const now = ctx.now();
  return withTenant(ctx.sql, orgId, async (tx) => {
    const withNonce = receipts.filter((receipt) => receipt.nonce);
    const fresh = await rememberNonces(tx, withNonce.map((receipt) => ({ routeId: receipt.route.route_id, nonce: receipt.nonce?.value ?? "", expiresAt: receipt.nonce?.expiresAt ?? now })), now);
    const replayed = new Set(withNonce.filter((_, i) => !fresh[i]));
    const accepted = receipts.filter((receipt) => !replayed.has(receipt));
    const publishes = accepted.flatMap((receipt) => {
      const target = publishTarget(receipt.route);
      return target ? [{ receiptId: receipt.receiptId, target }] : [];
    });
    await sentTogether([ctx.ledger.recordMany(tx, accepted.map(receiptAppend)), enqueuePublishes(tx, orgId, publishes)]);
    ctx.metrics.ingressBatches.inc({ path: "transaction" });
    return receipts.map((receipt) => ({ ok: true as const, value: !replayed.has(receipt) }));
  });
}

/** SQLSTATE with which receive_batch declines a batch holding a nonce seen before (sql/033). */
const NONCE_SEEN = "HL425";

/**
 * The common case in one statement: receipts whose nonces are all first sightings are written by
 * `hookledger.receive_batch` in autocommit, one round trip and one commit. Answers undefined when the batch must
 * be sorted by the transactional path (a nonce repeated within the batch or seen before).
 */
async function recordReceiptsInOneStatement(ctx: AppContext, orgId: string, receipts: VerifiedReceipt[]): Promise<ItemOutcome<boolean>[] | undefined> {
  // receive_batch writes these two projections itself: only if no other projection wants the entries.
  if (!ctx.ledger.projectedOnlyBy("ingress.received", ["ingress_receipts", "pull_messages"])) return undefined;
  const now = ctx.now();
  const nonces = inClaimOrder(receipts.flatMap((receipt) => (receipt.nonce ? [{ routeId: receipt.route.route_id, hash: nonceHash(receipt.nonce.value), expiresAt: receipt.nonce.expiresAt }] : [])));
  if (new Set(nonces.map((nonce) => `${nonce.routeId} ${nonce.hash}`)).size < nonces.length) return undefined;
  const encoded = ctx.ledger.encode(receipts.map(receiptAppend));
  const publishes = receipts.flatMap((receipt) => {
    const target = publishTarget(receipt.route);
    return target ? [{ receiptId: receipt.receiptId, target }] : [];
  });
  try {
    await ctx.sql`
      select hookledger.receive_batch(${orgId}::uuid, ${now}::timestamptz, ${nonces.map((nonce) => nonce.routeId)}::text[], ${nonces.map((nonce) => nonce.hash)}::text[],
        ${nonces.map((nonce) => nonce.expiresAt.toISOString())}::timestamptz[], ${PURGE_BATCH * nonces.length}::int,
        ${encoded.streams}::text[], ${encoded.counts}::int[], ${ctx.sql.json(encoded.rows as never)}::jsonb,
        ${ctx.sql.json(publishJobSpecs(orgId, publishes) as never)}::jsonb)`;
  } catch (error) {
    if ((error as { code?: unknown }).code === NONCE_SEEN) return undefined;
    throw error;
  }
  jobWakeupsFor(ctx.sql).jobsInserted(publishes.length);
  ctx.metrics.ingressBatches.inc({ path: "one_statement" });
  return receipts.map(() => ({ ok: true as const, value: true }));
}

/**
 * Records a batch: in one statement when it can, else in one transaction; a batch whose transaction failed is
 * written receipt by receipt, so one cause fails one request.
 */
async function recordReceiptsAlone(ctx: AppContext, orgId: string, receipts: VerifiedReceipt[]): Promise<ItemOutcome<boolean>[]> {
  try {
    return (await recordReceiptsInOneStatement(ctx, orgId, receipts)) ?? (await recordReceipts(ctx, orgId, receipts));
  } catch (error) {
    if (receipts.length === 1) return [{ ok: false, error }];
    const outcomes: ItemOutcome<boolean>[] = [];
    for (const receipt of receipts) outcomes.push(...(await recordReceiptsAlone(ctx, orgId, [receipt])));
    return outcomes;
  }
}

/**
 * Routes and their verification secrets for a batch of requests of one organization: two reads sent together,
 * each setting the tenant for its own statement (sql/060), so no transaction is open while this process, busy
 * verifying signatures, gets round to committing it. Only on a cache miss (routeCache.ts).
 */
async function loadRoutes(ctx: AppContext, orgId: string, routeIds: string[]): Promise<ItemOutcome<LoadedRoute | undefined>[]> {
  const loadedAt = ctx.now();
  const ids = [...new Set(routeIds)];
  const [routes, secretRows] = await Promise.all([
    getRoutesOf(ctx.sql, orgId, ids),
    routeSecretRowsOf(ctx.sql, orgId, ids, new Date(loadedAt.getTime() - MAX_TOLERANCE_MS)),
  ]);
  const live = routes.filter((route) => route.enabled);
  // Each route's secrets that a request at loadedAt or later may use (a cached copy is never used before it):
  // only these are decrypted, so a secret retired long ago under a key since dropped from the keyring is not.
  const secrets = secretsForVerificationFrom(
    secretRows,
    ctx.keyring,
    live.filter((route) => route.auth.type !== "forward").map((route) => ({ routeId: route.route_id, endedAfter: new Date(loadedAt.getTime() - toleranceMsOf(route)) })),
  );
  const found = new Map(live.map((route) => [route.route_id, { route, secrets: secrets.get(route.route_id) ?? [], loadedAt }]));
  return routeIds.map((routeId) => ({ ok: true as const, value: found.get(routeId) }));
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

/** How long a URL's route lookup is remembered: a route deleted or moved meanwhile is still checked on load. */
const LOOKUP_TTL_MS = 5000;
const LOOKUP_MAX = 10_000;

/** A request a token holder publishes by hand: already authorised, so it is recorded as it is. */
export interface ManualPublish {
  orgId: string;
  route: IngressRouteRow;
  headers: Headers;
  rawBody: Uint8Array;
  /** The token, its actor and the request, as auditMeta builds them. */
  meta: EntryMeta;
}

export interface WebhookReceiver {
  receive(request: IncomingRequest): Promise<ReceiveOutcome>;
  /** Records a manual publish exactly like a verified receipt (queue and/or publish job); answers its receipt id. */
  publish(request: ManualPublish): Promise<string>;
}

/**
 * The receiving side of one process: its URL lookups, and its group commits for route loads and records.
 *
 * @example
 * const receiver = createWebhookReceiver(ctx, routeCache);
 * const outcome = await receiver.receive(request); // { kind: "accepted", receiptId } …
 */
export function createWebhookReceiver(ctx: AppContext, routeCache: IngressRouteCache): WebhookReceiver {
  const lookups = new Map<string, { found: { orgId: string; routeId: string }; at: number }>();
  // One flush per organization at a time: fewer, larger commits (bench scenario 9: 0.96 core-ms per receipt with
  // one in flight, 1.18 with two). Unlike events (outbound/ingest.ts) no second flush for slow ones: a receipt is
  // one row set, never a wide fan-out.
  const loads = new GroupCommit<string, LoadedRoute | undefined>((orgId, routeIds) => loadRoutes(ctx, orgId, routeIds), { maxBatch: 256, maxConcurrentFlushes: 1 });
  const records = new GroupCommit<VerifiedReceipt, boolean>((orgId, receipts) => recordReceiptsAlone(ctx, orgId, receipts), { maxBatch: 256, maxConcurrentFlushes: 1 });
  const rejections = rejectionCounter(ctx.sql);

  /**
   * Only found routes are remembered: a route created a moment ago must be found at once. Keys name their kind: a
   * route id arrives decoded, so `/in/{org_id}%2F{path}` names the id `{org_id}/{path}`, which must not find what
   * the custom path `/in/{org_id}/{path}` found (it did, for 5 s after a request to it).
   */
  const lookup = async (target: ReceiveTarget) => {
    const key = "routeId" in target ? `id:${target.routeId}` : `path:${target.orgId}/${target.path}`;
    const cached = lookups.get(key);
    if (cached && performance.now() - cached.at < LOOKUP_TTL_MS) return { key, found: cached.found };
    const found = await findTarget(ctx.sql, target);
    if (found) {
      if (lookups.size >= LOOKUP_MAX) lookups.delete(lookups.keys().next().value as string);
      lookups.set(key, { found, at: performance.now() });
    }
    return { key, found };
  };

  return {
    async receive(request) {
      const { key, found } = await lookup(request.target);
      if (!found) return { kind: "not_found" };
      const { orgId, routeId } = found;
      const now = ctx.now();
      const loaded = await routeCache.find(orgId, routeId, now, () => loads.submit(orgId, routeId));
      // The lookup may be a few seconds old: the route must still be live and, when named by path, still have it.
      if (!loaded || ("path" in request.target && loaded.route.path !== request.target.path)) {
        lookups.delete(key);
        return { kind: "not_found" };
      }
      const { route } = loaded;
      const reject = async (status: 401 | 403 | 413 | 503, reason: RejectionReason): Promise<ReceiveOutcome> => {
        ctx.metrics.ingressVerifications.inc({ result: reason });
        ctx.log.debug("ingress request refused", { route_id: routeId, reason, request_id: request.meta.request_id });
        await rejections.count(orgId, { routeId, reason, at: now });
        return { kind: "rejected", status, reason, ...(status === 413 ? { maxBytes: route.max_body_bytes } : {}) };
      };

      const declared = Number(request.headers.get("content-length") ?? "0");
      if (declared > route.max_body_bytes) return reject(413, "too_large");
      const rawBody = await request.readBody(route.max_body_bytes);
      if (!rawBody) return reject(413, "too_large");

      const auth = await authenticateRequest(ctx.egress, route, secretsAt(loaded, now), { headers: request.headers, rawBody, method: request.method, path: request.path, clientIp: request.clientIp, scheme: request.scheme }, now);
      if (!auth.ok) return reject(auth.status, auth.reason);

      const receiptId = newReceiptId();
      const recorded = await records.submit(orgId, { route, receiptId, headers: request.headers, rawBody, verification: auth.verification, nonce: auth.nonce, meta: request.meta });
      if (!recorded) {
        // A sender retries a message it is not sure arrived (Standard Webhooks and Svix resend with the same id):
        // answered 2xx, as their receivers are asked to, so it stops; counted as a replay, recorded once. An
        // attacker replaying a captured request gets the same answer and nothing more.
        ctx.metrics.ingressVerifications.inc({ result: "replayed" });
        await rejections.count(orgId, { routeId, reason: "replayed", at: now });
        return { kind: "duplicate" };
      }
      ctx.metrics.ingressVerifications.inc({ result: "accepted" });
      return { kind: "accepted", receiptId };
    },

    async publish({ orgId, route, headers, rawBody, meta }) {
      const receiptId = newReceiptId();
      await records.submit(orgId, { route, receiptId, headers, rawBody, verification: { method: "manual" }, meta });
      return receiptId;
    },
  };
}
