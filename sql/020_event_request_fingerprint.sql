-- events.payload_sha256 held the idempotency fingerprint of the request (application, type, content type,
-- canonical payload, labels), not the SHA-256 its name promises. From now on it is the SHA-256 of the payload bytes
-- as delivered, and the fingerprint has its own column. Rows (and event.received entries) written before this
-- migration keep the fingerprint in payload_sha256: their request_fingerprint is copied from it.
alter table hookledger.events add column request_fingerprint text;
update hookledger.events set request_fingerprint = payload_sha256;
alter table hookledger.events alter column request_fingerprint set not null;
comment on column hookledger.events.payload_sha256 is
  'SHA-256 (hex) of the payload bytes as delivered. Events received before migration 020 hold their request fingerprint here instead.';
comment on column hookledger.events.request_fingerprint is
  'Idempotency fingerprint: SHA-256 over application, event type, content type, encoding, canonical payload and labels. A repeated event_id with another fingerprint is a conflict.';
