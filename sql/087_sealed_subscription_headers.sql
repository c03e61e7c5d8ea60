-- Values of a subscription's custom headers whose names look like credentials (Authorization, X-Api-Key…: the rule
-- of src/http/credentialHeaders.ts) are sealed under the keyring before they reach the ledger and this projection.
-- Before, they were stored in clear in subscription.created/updated entries and in subscriptions.headers, where the
-- service role, a DBA with the owner role, backups and the WAL read them.
--
-- Representation (entries and projection alike):
--   headers          name -> value in clear, for names that are not credential-like (X-Tenant: acme). Shown in answers.
--   sealed_headers   name -> `v1.<kid>.<iv>.<ciphertext‖tag>` (src/crypto/encryption.ts, AES-256-GCM), for
--                    credential-like names. The associated data is `subscription-header:<subscription id>:<name>`,
--                    so a value copied onto another subscription or header name does not open. A name is in one map,
--                    never both. A value a user sends is always a value, whatever it looks like: a sealed value is
--                    one only because it sits in sealed_headers, which no request can write.
-- An entry that carries `headers` replaces both maps; its `sealed_headers` absent (every entry recorded before this
-- migration) means none sealed.
--
-- Values already stored in clear cannot be sealed here: SQL has no keyring. They keep working as they are (the
-- delivery path reads both maps), and are sealed by the next write of the subscription's headers (a PATCH
-- with `headers`, `[redacted]` keeping each value), or for every subscription at once by
-- `hookledger seal-subscription-headers` (README, "Custom headers at rest"), which records that write for each
-- subscription that still has one; the same command moves sealed values to a new active key after a keyring
-- rotation. The ledger is append-only: the entries recorded before keep their clear values.

alter table hookledger.subscriptions add column sealed_headers jsonb not null default '{}';

comment on column hookledger.subscriptions.headers is
  'Custom headers sent with every delivery, name -> value in clear, for names that are not credential-like. Rows and ledger entries written before sql/087 may hold credential-like values here in clear too, until their next headers write.';
comment on column hookledger.subscriptions.sealed_headers is
  'Custom headers of credential-like names (Authorization, X-Api-Key…), name -> value sealed under the keyring (v1.<kid>.<iv>.<ciphertext>, associated data subscription-header:<subscription id>:<name>). Opened only to send deliveries, to keep a value sent back as [redacted], and to seal it anew (seal-subscription-headers).';

-- The same redaction as sql/086, except that the names in `headers` are those of headers and sealed_headers
-- together, and sealed_headers itself is removed: auditors read what they read before (every custom header's name,
-- in the same order, under `headers`), never a sealed value. An entry without sealed_headers shows as it did.
alter table hookledger.ledger alter column redacted_data set expression as (
  (data - array['token_sha256', 'payload', 'body_base64', 'response_excerpt', 'headers', 'sealed_headers', 'response_headers'])
  || case when data ? 'headers'
       then jsonb_set('{}', '{headers}', jsonb_path_query_array(
              (data -> 'headers') || coalesce(data -> 'sealed_headers', '{}'), '$.keyvalue().key', '{}', true))
       else '{}'::jsonb end
  || case when data ? 'response_headers'
       then jsonb_set('{}', '{response_headers}', jsonb_path_query_array(data, '$.response_headers.keyvalue().key', '{}', true))
       else '{}'::jsonb end
  || case when data @> '{"kind": "instance_admin", "label": "configured (HOOKLEDGER_ADMIN_TOKEN)"}'
       then '{"token_prefix": "configured"}'::jsonb
       else '{}'::jsonb end
);

comment on column hookledger.ledger.redacted_data is
  'data as auditors and GET /v1/audit-log show it: token_sha256 and message bodies (payload, body_base64, response_excerpt) removed, headers and response_headers reduced to their header names (those of sealed_headers shown among the headers), sealed_headers removed, a configured admin token''s prefix shown as ''configured''. Computed on read, not stored.';
