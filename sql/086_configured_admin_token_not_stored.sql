-- A configured instance admin token (HOOKLEDGER_ADMIN_TOKEN) is no longer stored: neither its hash nor its first
-- characters. It is checked against the configuration in memory (src/tenancy/configuredAdminToken.ts).
--
-- Why: generated tokens carry 256 random bits, so their unsalted SHA-256 and a few of their characters give nothing
-- away. An operator-chosen string of 32+ characters may be a passphrase: its first six characters sat in
-- api_tokens.token_prefix and in the ledger entry auditors read (redacted_data), and its SHA-256 in api_tokens and
-- the ledger, so whoever read either could test guesses offline.
--
-- What this changes for an existing installation:
--   api_tokens   rows of configured tokens lose their hash and prefix (the prefix becomes the marker 'configured');
--                the projection writes them so on a rebuild too. The configured value keeps working: it is checked
--                against the configuration, no longer looked up by hash.
--   ledger       append-only, so the token.created entries recorded before this keep their data (the six
--                characters and the hash, readable by the service role and the owner, never by auditors, to whom
--                token_sha256 was already withheld) and their stream name, `instance:admin-token:` followed by the
--                first 32 hex digits of that hash, which auditors read in event_log.stream. Auditors now see the
--                marker in place of the characters (redacted_data below). Changing HOOKLEDGER_ADMIN_TOKEN after
--                upgrading makes what stays there useless: the old value is no longer accepted.

-- The rows of the system organization, as the service writes them (RLS applies to a non-superuser owner too).
select set_config('hookledger.org_id', '00000000-0000-0000-0000-000000000000', true);

alter table hookledger.api_tokens alter column token_hash drop not null;
alter table hookledger.api_tokens add constraint api_tokens_hash_check
  check (token_hash is not null or (kind = 'instance_admin' and token_prefix = 'configured'));

update hookledger.api_tokens
   set token_prefix = 'configured', token_hash = null
 where kind = 'instance_admin' and label = 'configured (HOOKLEDGER_ADMIN_TOKEN)';

comment on column hookledger.api_tokens.token_hash is
  'SHA-256 of the token. NULL for a configured instance admin token (HOOKLEDGER_ADMIN_TOKEN), which is checked against the configuration and never stored.';
comment on column hookledger.api_tokens.token_prefix is
  'First characters of a generated token, to recognise it in lists and secret-scanner reports; ''configured'' for a configured instance admin token, none of whose characters are kept.';

-- The same redaction as sql/030, plus: a configured token's entry shows the marker, never characters of the value.
-- The ledger has no check constraint left (sql/080), so the expression can be set in place (no rewrite: virtual).
alter table hookledger.ledger alter column redacted_data set expression as (
  (data - array['token_sha256', 'payload', 'body_base64', 'response_excerpt', 'headers', 'response_headers'])
  || case when data ? 'headers'
       then jsonb_set('{}', '{headers}', jsonb_path_query_array(data, '$.headers.keyvalue().key', '{}', true))
       else '{}'::jsonb end
  || case when data ? 'response_headers'
       then jsonb_set('{}', '{response_headers}', jsonb_path_query_array(data, '$.response_headers.keyvalue().key', '{}', true))
       else '{}'::jsonb end
  || case when data @> '{"kind": "instance_admin", "label": "configured (HOOKLEDGER_ADMIN_TOKEN)"}'
       then '{"token_prefix": "configured"}'::jsonb
       else '{}'::jsonb end
);

comment on column hookledger.ledger.redacted_data is
  'data as auditors and GET /v1/audit-log show it: token_sha256 and message bodies (payload, body_base64, response_excerpt) removed, headers and response_headers reduced to their header names, a configured admin token''s prefix shown as ''configured''. Computed on read, not stored.';
