/** JSON shapes of inbound resources, in one place so every route answers the same shape. Never a secret value. */
import type { PullMessageRow, PullQueueRow, PullQueueStats } from "../pullStore.ts";
import type { ReceiptRow } from "../receiptStore.ts";
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

/** `path` is the tenant's custom path as set (null when unset); the *_receive_path fields are the URLs to post to. */
export function presentRoute(row: IngressRouteRow, extras: { secrets?: RouteSecretInfo[]; rejections?: RejectionCounts } = {}) {
  return {
    id: row.route_id,
    path: row.path,
    receive_path: receivePath(row.route_id),
    custom_receive_path: row.path === null ? null : customReceivePath(row.org_id, row.path),
    name: row.name,
    description: row.description,
    auth: row.auth,
    max_body_bytes: row.max_body_bytes,
    publish: row.publish_app_id ? { app_id: row.publish_app_id, event_type: row.publish_event_type } : null,
    queue: row.queue,
    enabled: row.enabled,
    ...(extras.secrets ? { secrets: extras.secrets.map((secret) => presentSecret(secret)) } : {}),
    ...(extras.rejections ? { rejections: extras.rejections } : {}),
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** A generated secret's value appears once, in the response that created it. */
export function presentSecret(secret: AddedSecret) {
  return {
    id: secret.secret_id,
    source: secret.source,
    valid_from: secret.valid_from,
    valid_until: secret.valid_until,
    created_at: secret.created_at,
    ...(secret.value !== undefined ? { value: secret.value } : {}),
  };
}

export function presentReceipt(row: Pick<ReceiptRow, "receipt_id" | "route_id" | "content_type" | "headers" | "body" | "received_at">) {
  return {
    id: row.receipt_id,
    route_id: row.route_id,
    received_at: row.received_at,
    content_type: row.content_type,
    headers: row.headers,
    body_base64: row.body.toString("base64"),
  };
}

export function presentQueue(row: PullQueueRow, stats: PullQueueStats | undefined, now: Date) {
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
      oldest_enqueued_at: oldest,
      oldest_age_seconds: oldest ? Math.max(0, Math.floor((now.getTime() - oldest.getTime()) / 1000)) : null,
    },
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

export function presentLeasedMessage(row: PullMessageRow) {
  return {
    id: row.message_id,
    lease_id: row.lease_id,
    lease_expires_at: row.lease_expires_at,
    delivery: row.deliveries,
    enqueued_at: row.enqueued_at,
    receipt: presentReceipt({ ...row }),
  };
}

export function presentDeadLetter(row: PullMessageRow) {
  return {
    id: row.message_id,
    deliveries: row.deliveries,
    enqueued_at: row.enqueued_at,
    dead_at: row.dead_at,
    receipt: presentReceipt({ ...row }),
  };
}
