-- Idempotency-Key on /v1 POSTs: a client that repeats a request with the same key (after a timeout, a dropped
-- connection, a crash on its side) gets the first request's answer again instead of a second application, token
-- or retry. `event_id` plays this part for events; a key works there too.
--
-- Not a projection: a key remembers an answer, not a fact, and the action it answered for is in the ledger like any
-- other. Rows live 24 hours. The answer is kept encrypted with the keyring (it can hold a new token or a signing
-- secret, which are never stored in the clear); the request is kept only as an HMAC-SHA256 keyed from the keyring,
-- to tell a repeat from a different request under the same key.

create table hookledger.idempotency_keys (
  org_id        uuid        not null,
  token_id      uuid        not null,
  key           text        not null check (octet_length(key) between 1 and 255),
  request_hash  bytea       not null check (octet_length(request_hash) = 32),
  -- Set while a request holds the key; cleared, with the answer kept, when it has finished.
  claim_id      uuid,
  locked_until  timestamptz,
  answer        text,
  created_at    timestamptz not null,
  expires_at    timestamptz not null,
  primary key (org_id, token_id, key),
  check ((claim_id is null) = (answer is not null)),
  check ((claim_id is null) = (locked_until is null))
);
comment on table hookledger.idempotency_keys is 'Idempotency-Key of /v1 POST requests, per organization and token, for 24 hours: the HMAC-SHA256 of the request (method, path, query and body, keyed from the keyring) and, once it has finished, its answer (status, headers, body) encrypted with the keyring. Not a projection: the actions themselves are in the ledger.';
comment on column hookledger.idempotency_keys.claim_id is 'Set while a request holding the key runs; a repeat arriving meanwhile answers 409 idempotency-in-progress until locked_until.';
comment on column hookledger.idempotency_keys.answer is 'The first answer, encrypted (AES-256-GCM, bound to the organization, token and key).';

select hookledger_private.protect_tenant_table('hookledger.idempotency_keys');

-- The expiry sweep (tenancy/expireIdempotencyKeysTask.ts) deletes rows past their expiry across tenants; it can
-- read nothing else.
create policy expiry_sweep_read on hookledger.idempotency_keys for select to hookledger_admin using (expires_at <= now());
create policy expiry_sweep on hookledger.idempotency_keys for delete to hookledger_admin using (expires_at <= now());
grant select (expires_at), delete on hookledger.idempotency_keys to hookledger_admin;
create index idempotency_keys_expiry_idx on hookledger.idempotency_keys (expires_at);
