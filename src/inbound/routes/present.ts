/**
 * JSON shapes of inbound resources: one valibot schema each, which the OpenAPI document publishes, and the
 * `present*` function every route answers through, typed by that schema. Never a secret value, except a generated
 * one in the answer that created it.
 */
import * as v from "valibot";
import { iso, isoOrNull, named, nullableTimestamp, stringMap, timestamp } from "../../http/responses.ts";
import { ingressAuthSchema } from "../entries.ts";
import type { PullMessageRow, PullQueueRow, PullQueueStats } from "../pullStore.ts";
import type { ListedReceiptRow } from "../receiptStore.ts";
import type { RejectionCounts } from "../rejections.ts";
import type { AddedSecret } from "../routeSecretCommands.ts";
import type { RouteSecretInfo } from "../routeSecrets.ts";
import type { IngressRouteRow } from "../routeStore.ts";

/**
 * The paths senders post to; the scheme and host are wherever this instance is published.
 *
 * @example
 * receivePath("rt_4eC39HqLyjWDarjtT1zdp7dc"); // "/in/rt_4eC39HqLyjWDarjtT1zdp7dc"
 * customReceivePath("0b6a5f5e-8d5c-4f37-9a57-3f6f1f0e2a11", "github/main"); // "/in/0b6a5f5e-…/github/main"
 */
export const receivePath = (routeId: string) => `/in/${routeId}`;
export const customReceivePath = (orgId: string, path: string) => `/in/${orgId}/${path}`;

export const routeSecretJson = named(
  "IngressRouteSecret",
  v.object({
    id: v.string(),
    source: v.picklist(["value", "generated", "env", "file", "vault", "raw"]),
    valid_from: timestamp,
    /** Exclusive; null = no end. */
    valid_until: nullableTimestamp,
    created_at: timestamp,
    /** A secret hookledger generated, in the answer that created it only. */
    value: v.optional(v.string()),
  }),
);
export type RouteSecretJson = v.InferOutput<typeof routeSecretJson>;

/** A generated secret's value appears once, in the response that created it. */
export function presentSecret(secret: AddedSecret): RouteSecretJson {
  return {
    id: secret.secret_id,
    source: secret.source,
    valid_from: iso(secret.valid_from),
    valid_until: isoOrNull(secret.valid_until),
    created_at: iso(secret.created_at),
    ...(secret.value !== undefined ? { value: secret.value } : {}),
  };
}

const rejectionsJson = v.object({
  total: v.number(),
  /** Refused requests by reason (missing_header, signature_mismatch, replayed, …). */
  by_reason: v.record(v.string(), v.optional(v.number())),
  last_rejected_at: nullableTimestamp,
});

const routeFields = {
  id: v.string(),
  /** The custom path as set; null when unset. */
  path: v.nullable(v.string()),
  receive_path: v.string(),
  custom_receive_path: v.nullable(v.string()),
  name: v.string(),
  description: v.nullable(v.string()),
  auth: ingressAuthSchema,
  max_body_bytes: v.number(),
  publish: v.nullable(
    v.object({
      app_id: v.pipe(v.string(), v.description("The application's id, also when the route was saved with its uid (resolved then, once: a uid moved later changes nothing here).")),
      event_type: v.string(),
    }),
  ),
  queue: v.nullable(v.string()),
  enabled: v.boolean(),
  /** Whether POST /v1/ingress-routes/{id}/publish may publish to this route (the instance's policy still applies). */
  manual_publish: v.boolean(),
  created_at: timestamp,
  updated_at: timestamp,
};
/** `secrets` (ids and windows) on the route itself; `rejections` on it and in lists. */
export const routeJson = named("IngressRoute", v.object({ ...routeFields, secrets: v.optional(v.array(routeSecretJson)), rejections: v.optional(rejectionsJson) }));
export type RouteJson = v.InferOutput<typeof routeJson>;

/** The creation answer: the route with its secrets, generated values included. */
export const createdRouteJson = named("CreatedIngressRoute", v.object({ ...routeFields, secrets: v.array(routeSecretJson) }));
export type CreatedRouteJson = v.InferOutput<typeof createdRouteJson>;

/** `path` is the tenant's custom path as set (null when unset); the *_receive_path fields are the URLs to post to. */
export function presentRoute(row: IngressRouteRow, extras: { secrets?: RouteSecretInfo[]; rejections?: RejectionCounts } = {}): RouteJson {
  return {
    id: row.route_id,
    path: row.path,
    receive_path: receivePath(row.route_id),
    custom_receive_path: row.path === null ? null : customReceivePath(row.org_id, row.path),
    name: row.name,
    description: row.description,
    auth: row.auth,
    max_body_bytes: row.max_body_bytes,
    // Both columns are set or both null (a check constraint).
    publish: row.publish_app_id && row.publish_event_type ? { app_id: row.publish_app_id, event_type: row.publish_event_type } : null,
    queue: row.queue,
    enabled: row.enabled,
    manual_publish: row.manual_publish,
    ...(extras.secrets ? { secrets: extras.secrets.map((secret) => presentSecret(secret)) } : {}),
    ...(extras.rejections
      ? { rejections: { total: extras.rejections.total, by_reason: extras.rejections.by_reason, last_rejected_at: isoOrNull(extras.rejections.last_rejected_at) } }
      : {}),
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

const receiptFields = {
  id: v.string(),
  route_id: v.string(),
  received_at: timestamp,
  content_type: v.nullable(v.string()),
  /** Request headers without credentials, cookies, signatures or hop-by-hop headers. */
  headers: stringMap,
  /** The body exactly as received. */
  body_base64: v.string(),
};
export const receiptJson = named("Receipt", v.object(receiptFields));
export type ReceiptJson = v.InferOutput<typeof receiptJson>;

/**
 * A receipt with how its request was authenticated (method, preset, secret id, signed time) and, when it came over
 * mutual TLS, the verified client certificate's subject (`connection_identity`).
 */
export const verifiedReceiptJson = named("VerifiedReceipt", v.object({ ...receiptFields, verification: stringMap }));
export type VerifiedReceiptJson = v.InferOutput<typeof verifiedReceiptJson>;

/** The body comes as base64 from the query (receiptStore.ts: bodyAsBase64), never as bytes encoded here. */
export function presentReceipt(row: Pick<ListedReceiptRow, "receipt_id" | "route_id" | "content_type" | "headers" | "body_base64" | "received_at">): ReceiptJson {
  return {
    id: row.receipt_id,
    route_id: row.route_id,
    received_at: iso(row.received_at),
    content_type: row.content_type,
    headers: row.headers,
    body_base64: row.body_base64,
  };
}

export const acceptedReceiptJson = named("AcceptedReceipt", v.object({ receipt_id: v.string() }));
export type AcceptedReceiptJson = v.InferOutput<typeof acceptedReceiptJson>;
export const duplicateReceiptJson = named("DuplicateReceipt", v.object({ duplicate: v.literal(true) }));
export type DuplicateReceiptJson = v.InferOutput<typeof duplicateReceiptJson>;

export const queueJson = named(
  "PullQueue",
  v.object({
    name: v.string(),
    description: v.nullable(v.string()),
    max_deliveries: v.number(),
    lease_seconds: v.number(),
    depth: v.object({
      ready: v.number(),
      delayed: v.number(),
      leased: v.number(),
      dead: v.number(),
      oldest_enqueued_at: nullableTimestamp,
      oldest_age_seconds: v.nullable(v.number()),
    }),
    created_at: timestamp,
    updated_at: timestamp,
  }),
);
export type QueueJson = v.InferOutput<typeof queueJson>;

export function presentQueue(row: PullQueueRow, stats: PullQueueStats | undefined, now: Date): QueueJson {
  const oldest = stats?.oldest_enqueued_at ?? null;
  return {
    name: row.queue,
    description: row.description,
    max_deliveries: row.max_deliveries,
    lease_seconds: row.lease_seconds,
    depth: {
      ready: stats?.ready ?? 0,
      delayed: stats?.delayed ?? 0,
      leased: stats?.leased ?? 0,
      dead: stats?.dead ?? 0,
      oldest_enqueued_at: isoOrNull(oldest),
      oldest_age_seconds: oldest ? Math.max(0, Math.floor((now.getTime() - oldest.getTime()) / 1000)) : null,
    },
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

export const leasedMessageJson = named(
  "LeasedMessage",
  v.object({
    id: v.string(),
    /** Send it to ack, nack or extend before `lease_expires_at`. */
    lease_id: v.nullable(v.string()),
    lease_expires_at: nullableTimestamp,
    /** 1 on the first lease, counting every lease since. */
    delivery: v.number(),
    enqueued_at: timestamp,
    receipt: receiptJson,
  }),
);
export type LeasedMessageJson = v.InferOutput<typeof leasedMessageJson>;

export function presentLeasedMessage(row: PullMessageRow): LeasedMessageJson {
  return {
    id: row.message_id,
    lease_id: row.lease_id,
    lease_expires_at: isoOrNull(row.lease_expires_at),
    delivery: row.deliveries,
    enqueued_at: iso(row.enqueued_at),
    receipt: presentReceipt({ ...row }),
  };
}

export const leasedMessagesJson = named("LeasedMessages", v.object({ messages: v.array(leasedMessageJson) }));
export type LeasedMessagesJson = v.InferOutput<typeof leasedMessagesJson>;

export const settledLeasesJson = named(
  "SettledLeases",
  /** `lost`: leases no longer held (unknown, expired and leased again, or already acknowledged). */
  v.object({ done: v.array(v.string()), lost: v.array(v.string()) }),
);
export type SettledLeasesJson = v.InferOutput<typeof settledLeasesJson>;

export const deadLetterJson = named(
  "DeadLetter",
  v.object({ id: v.string(), deliveries: v.number(), enqueued_at: timestamp, dead_at: nullableTimestamp, receipt: receiptJson }),
);
export type DeadLetterJson = v.InferOutput<typeof deadLetterJson>;

export function presentDeadLetter(row: PullMessageRow): DeadLetterJson {
  return {
    id: row.message_id,
    deliveries: row.deliveries,
    enqueued_at: iso(row.enqueued_at),
    dead_at: isoOrNull(row.dead_at),
    receipt: presentReceipt({ ...row }),
  };
}

/** A replay or purge acts on at most 1,000 dead letters (deadLetters.ts): `remaining` says whether to call again. */
const remainingDeadLetters = v.pipe(
  v.number(),
  v.description("dead letters the queue still holds after this call; without `message_ids` a call takes at most 1,000 (the oldest), so call again until this is 0"),
);
export const replayedDeadLettersJson = named("ReplayedDeadLetters", v.object({ replayed: v.number(), remaining: remainingDeadLetters }));
export type ReplayedDeadLettersJson = v.InferOutput<typeof replayedDeadLettersJson>;
export const purgedDeadLettersJson = named("PurgedDeadLetters", v.object({ purged: v.number(), remaining: remainingDeadLetters }));
export type PurgedDeadLettersJson = v.InferOutput<typeof purgedDeadLettersJson>;
