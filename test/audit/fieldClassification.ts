/**
 * How the audit suites classify the fields of ledger entries: shown to auditors as they are, shown as auditors read
 * URLs, or redacted. The redaction test walks every entry type against these lists; the catalogue test reuses them
 * for table columns of the same names.
 */

/** Fields shown to auditors and audit:read tokens: names, settings, ids, times and hashes, never content. */
export const SAFE_FIELDS = new Set([
  // names, descriptions and tenant-chosen labels, the same the management API shows to readers (an application's
  // uid is the tenant's own name for it)
  "name", "description", "metadata", "labels", "label", "channels", "event_types", "event_type", "schema", "quotas", "uid",
  // ids and key ids (never key material)
  "event_id", "route_id", "receipt_id", "secret_id", "key_id", "previous_key_id", "token_prefix", "queue", "queues",
  "publish.event_type", "verification.secret_id",
  // who mutual TLS proved the sender to be: the verified certificate's subject, as audit_log's connection_identity shows it
  "verification.connection_identity",
  // W3C trace context (trace and span ids) of the event's fan-out span
  "traceparent",
  // verifier settings (secrets live apart from them) and a route's path: where hookledger itself receives, behind the
  // route's verification, never a credential
  "path", "allowed_origins", "auth.preset", "auth.generic", "auth.username", "verification.preset", "signed_headers",
  // times
  "expires_at", "previous_expires_at", "failing_since", "occurred_at", "next_attempt_at", "valid_from", "valid_until",
  "lease_expires_at", "visible_at", "verification.signed_at", "partition_cutoff", "retry_at",
  // what hookledger itself wrote: media types, digests of bodies, reasons and error summaries, partition names
  "content_type", "payload_sha256", "request_fingerprint", "body_sha256", "reason", "error_message", "partitions", "partitions_dropped",
]);

/**
 * URLs a receiver chose, which may carry its secret in a query value, a path segment or a fragment: shown as
 * hookledger.url_for_audit reads them (sql/094), where the URL points and no credential.
 */
export const URL_FIELDS = new Set(["url", "auth.url"]);

/** Fields that carry a body, a credential or a header value, and what the audit data keeps of them. */
export const REDACTED_FIELDS: Record<string, "removed" | "header names" | "names in headers"> = {
  token_sha256: "removed",
  payload: "removed",
  body_base64: "removed",
  response_excerpt: "removed",
  headers: "header names",
  // sealed custom header values (sql/087): their names are shown among the names of `headers`, as before sealing
  sealed_headers: "names in headers",
  response_headers: "header names",
};
