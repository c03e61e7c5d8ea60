-- The events projection (sql/031) keeps the event's traceparent (sql/050) as the TypeScript projection did.
create or replace function hookledger.project_events_received(p_rows jsonb) returns void
language sql as $$
  insert into hookledger.events (org_id, event_id, app_id, event_type, content_type, payload_encoding, payload, payload_sha256,
    request_fingerprint, labels, occurred_at, received_at, deliveries_scheduled, traceparent)
  select org_id, event_id, app_id, event_type, content_type, payload_encoding, payload, payload_sha256,
    coalesce(request_fingerprint, payload_sha256), labels, occurred_at, at, deliveries_scheduled, traceparent
  from jsonb_to_recordset(p_rows) as r(
    org_id uuid, event_id text, app_id uuid, event_type text, content_type text, payload_encoding text, payload text,
    payload_sha256 text, request_fingerprint text, labels jsonb, occurred_at timestamptz, at timestamptz, deliveries_scheduled integer,
    traceparent text)
$$;
