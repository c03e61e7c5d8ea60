/**
 * Ledger entry types of the inbound capability. Secrets never appear here, only their ids and validity windows;
 * refused requests never appear at all (they are counted in ingress_rejections), so forged traffic cannot flood
 * the ledger. Pull-message entries stay small: they name the message and lease, never repeat the payload.
 */
import * as v from "valibot";

const uuid = v.pipe(v.string(), v.uuid());
const timestamp = v.string();
const stringMap = v.record(v.string(), v.string());

export const ingressAuthSchema = v.variant("type", [
  v.strictObject({
    type: v.literal("hmac"),
    preset: v.string(),
    tolerance_seconds: v.number(),
    generic: v.optional(v.record(v.string(), v.unknown())),
  }),
  v.strictObject({ type: v.literal("basic"), username: v.string() }),
  v.strictObject({ type: v.literal("forward"), url: v.string(), timeout_ms: v.number() }),
]);

export type IngressAuth = v.InferOutput<typeof ingressAuthSchema>;

const publishTarget = v.nullable(v.strictObject({ app_id: uuid, event_type: v.string() }));

const routeFields = {
  name: v.string(),
  description: v.nullable(v.string()),
  auth: ingressAuthSchema,
  max_body_bytes: v.number(),
  publish: publishTarget,
  queue: v.nullable(v.string()),
};

/** Added after the first routes were recorded: an entry without it means the route has no custom path. */
const routePath = v.optional(v.nullable(v.string()));

/** Added later too: an entry without it means manual publish is allowed (the column's default). */
const manualPublish = v.optional(v.boolean());

/** Why a receipt was not published: see `ingress.publish_failed`. */
export const PUBLISH_FAILURE_REASONS = [
  "unknown_application", "unknown_event_type", "schema_violation", "idempotency_conflict", "payload_too_large", "invalid_content_type", "content_encoded",
] as const;

const secretWindow = { valid_from: timestamp, valid_until: v.nullable(timestamp) };

export const inboundEntries = {
  "ingress_route.created": v.strictObject({ route_id: v.string(), enabled: v.boolean(), ...routeFields, path: routePath, manual_publish: manualPublish }),
  "ingress_route.updated": v.strictObject({ route_id: v.string(), enabled: v.optional(v.boolean()), ...v.partial(v.object(routeFields)).entries, path: routePath, manual_publish: manualPublish }),
  "ingress_route.deleted": v.strictObject({ route_id: v.string() }),
  "ingress_route.secret_added": v.strictObject({
    route_id: v.string(),
    secret_id: v.string(),
    source: v.picklist(["value", "generated", "env", "file", "vault", "raw"]),
    ...secretWindow,
  }),
  "ingress_route.secret_changed": v.strictObject({ route_id: v.string(), secret_id: v.string(), ...secretWindow }),
  "ingress_route.secret_removed": v.strictObject({ route_id: v.string(), secret_id: v.string() }),

  "ingress.received": v.strictObject({
    receipt_id: v.string(),
    route_id: v.string(),
    content_type: v.nullable(v.string()),
    /** Request headers without credentials, cookies, signatures or hop-by-hop headers. */
    headers: stringMap,
    body_base64: v.string(),
    body_sha256: v.string(),
    verification: v.strictObject({
      /** `manual`: published by a token holder through POST /v1/ingress-routes/{route_id}/publish. */
      method: v.picklist(["hmac", "basic", "forward", "manual"]),
      preset: v.optional(v.string()),
      secret_id: v.optional(v.string()),
      signed_at: v.optional(timestamp),
      /**
       * The subject of the client certificate the connection's TLS handshake verified, when the request came over
       * mutual TLS (the same as the entry's `meta.connection_identity`); absent otherwise, and on entries recorded before.
       */
      connection_identity: v.optional(v.pipe(v.string(), v.maxLength(1024))),
    }),
    publish: publishTarget,
    queue: v.nullable(v.string()),
    /**
     * The pull message enqueued on `queue` with the receipt (sql/073); its stream begins with its first lease.
     * Absent when the route feeds no queue, and on entries recorded before: those have a `pull.message_enqueued`.
     */
    message_id: v.optional(uuid),
  }),
  /**
   * A receipt that could not be published as an outbound event (it stays recorded, and queued if its route feeds a
   * queue). The ingest refusals (outbound/ingest.ts `IngestFailure`), and what publishTask.ts `unpublishable` finds:
   * `payload_too_large` (a body over HOOKLEDGER_MAX_EVENT_BYTES), `invalid_content_type` (a Content-Type that is not a
   * media type), `content_encoded` (a compressed body). A picklist, so a new reason is declared here before it is written.
   */
  "ingress.publish_failed": v.strictObject({ receipt_id: v.string(), reason: v.picklist(PUBLISH_FAILURE_REASONS) }),

  "pull_queue.created": v.strictObject({ queue: v.string(), description: v.nullable(v.string()), max_deliveries: v.number(), lease_seconds: v.number() }),
  "pull_queue.updated": v.strictObject({
    queue: v.string(),
    description: v.optional(v.nullable(v.string())),
    max_deliveries: v.optional(v.number()),
    lease_seconds: v.optional(v.number()),
  }),

  "pull.message_enqueued": v.strictObject({ message_id: uuid, queue: v.string(), receipt_id: v.string() }),
  "pull.message_leased": v.strictObject({ message_id: uuid, lease_id: uuid, lease_expires_at: timestamp, delivery: v.number() }),
  "pull.lease_extended": v.strictObject({ message_id: uuid, lease_id: uuid, lease_expires_at: timestamp }),
  "pull.message_acked": v.strictObject({ message_id: uuid, lease_id: uuid }),
  "pull.message_nacked": v.strictObject({ message_id: uuid, lease_id: uuid, visible_at: timestamp }),
  "pull.message_dead_lettered": v.strictObject({ message_id: uuid, deliveries: v.number() }),
  "pull.message_replayed": v.strictObject({ message_id: uuid }),
  "pull.message_purged": v.strictObject({ message_id: uuid }),
};

type InboundEntrySchemas = typeof inboundEntries;

/** Adds these types to the ledger's catalogue types; their schemas reach it at start-up (src/compose/entryTypes.ts). */
declare module "../ledger/catalogue.ts" {
  interface EntrySchemas extends InboundEntrySchemas {}
}
