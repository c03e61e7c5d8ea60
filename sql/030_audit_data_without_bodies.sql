-- The auditor's view of ledger data loses message bodies and every header value (hardening issue).
--
-- 006 redacted token hashes and subscription header values, but event.received's payload, ingress.received's
-- body_base64 and request header values, and delivery.attempted's response headers and body excerpt reached
-- hookledger_auditor through event_log and audit_log (the very columns 006 withheld from it on
-- delivery_attempts), and GET /v1/audit-log showed raw data. `redacted_data` stays the ONE redaction rule: the
-- audit views read it, and so does GET /v1/audit-log (through hookledger_audit.audit_log), so they cannot drift.
-- The rule goes by field name, whatever the entry type: a body or header map added to a new type later is
-- redacted as long as it uses these names, and test/audit/redaction.test.ts fails for any field of any catalogued
-- type that is neither on its allow-list nor redacted here.
--   removed:                 token_sha256, payload, body_base64, response_excerpt
--   reduced to header names: headers, response_headers
--
-- Why a column and not a function `redacted_entry_data(type, data)`: the views are security_invoker, so a view
-- calling a function on `data` would need the auditor to hold SELECT on `data` itself (see 006). A virtual
-- generated column is checked by its own privilege. PostgreSQL 18 allows only built-in functions in a virtual
-- column and cannot SET EXPRESSION on a table with check constraints, so the column is replaced: added under a
-- new name, the views switched to it (CREATE OR REPLACE keeps their comments and grants), the old column
-- dropped, the new one renamed. Virtual: no table rewrite, and later partitions inherit it.

alter table hookledger.ledger add column redacted_data_v2 jsonb generated always as (
  (data - array['token_sha256', 'payload', 'body_base64', 'response_excerpt', 'headers', 'response_headers'])
  || case when data ? 'headers'
       then jsonb_set('{}', '{headers}', jsonb_path_query_array(data, '$.headers.keyvalue().key', '{}', true))
       else '{}'::jsonb end
  || case when data ? 'response_headers'
       then jsonb_set('{}', '{response_headers}', jsonb_path_query_array(data, '$.response_headers.keyvalue().key', '{}', true))
       else '{}'::jsonb end
) virtual;

create or replace view hookledger_audit.event_log with (security_invoker = true) as
select l.position,
       l.org_id,
       l.stream,
       l.version,
       l.type,
       l.recorded_at,
       l.actor_kind,
       l.actor_id,
       l.meta -> 'actor' ->> 'label' as actor_label,
       l.meta ->> 'request_id'       as request_id,
       l.meta ->> 'ip'               as ip,
       l.meta ->> 'user_agent'       as user_agent,
       l.meta ->> 'reason'           as reason,
       l.redacted_data_v2            as data
from hookledger.ledger l;

create or replace view hookledger_audit.audit_log with (security_invoker = true) as
select l.recorded_at,
       l.org_id,
       l.actor_kind,
       l.actor_id,
       l.meta -> 'actor' ->> 'label' as actor_label,
       l.type,
       l.stream,
       l.redacted_data_v2            as data,
       l.meta ->> 'reason'           as reason,
       l.meta ->> 'ip'               as ip,
       l.meta ->> 'user_agent'       as user_agent,
       l.meta ->> 'request_id'       as request_id,
       l.position
from hookledger.ledger l
where l.actor_kind in ('token', 'instance_admin');

create or replace view hookledger_audit.secret_rotations with (security_invoker = true) as
select l.recorded_at,
       l.org_id,
       case l.type when 'subscription.secret_rotated' then 'rotated' else 'revealed' end as kind,
       (l.redacted_data_v2 ->> 'subscription_id')::uuid          as subscription_id,
       s.app_id,
       s.url                                                     as subscription_url,
       l.redacted_data_v2 ->> 'key_id'                           as key_id,
       l.redacted_data_v2 ->> 'previous_key_id'                  as previous_key_id,
       (l.redacted_data_v2 ->> 'previous_expires_at')::timestamptz as previous_key_expires_at,
       l.actor_kind,
       l.actor_id,
       l.meta -> 'actor' ->> 'label'                             as actor_label,
       l.meta ->> 'reason'                                       as reason,
       l.meta ->> 'ip'                                           as ip,
       l.meta ->> 'user_agent'                                   as user_agent,
       l.meta ->> 'request_id'                                   as request_id,
       l.position
from hookledger.ledger l
left join hookledger.subscriptions s
  on s.org_id = l.org_id and s.subscription_id = (l.redacted_data_v2 ->> 'subscription_id')::uuid
where l.type in ('subscription.secret_rotated', 'subscription.secret_revealed');

alter table hookledger.ledger drop column redacted_data;
alter table hookledger.ledger rename column redacted_data_v2 to redacted_data;

comment on column hookledger.ledger.redacted_data is
  'data as auditors and GET /v1/audit-log show it: token_sha256 and message bodies (payload, body_base64, response_excerpt) removed, headers and response_headers reduced to their header names. Computed on read, not stored.';
grant select (redacted_data) on hookledger.ledger to hookledger_auditor;

comment on column hookledger_audit.event_log.data is
  'Entry payload without token hashes or message bodies, header maps reduced to header names (hookledger.ledger.redacted_data).';
comment on column hookledger_audit.audit_log.data is
  'What: the change itself, without token hashes or message bodies, header maps reduced to header names.';
