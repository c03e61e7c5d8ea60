-- Audit views for DBAs (issue 7), in their own schema so `\dv hookledger_audit.*` is the whole catalogue.
--
-- Two audiences read the same views:
-- - the service role (hookledger_app), inside withTenant(): every view is security_invoker, so the row-level
--   security of the underlying tables applies and a tenant sees only its rows (none without a tenant);
-- - hookledger_auditor (granted to DBA logins): reads across tenants through SELECT-only policies, with
--   column-level grants limited to what the views show, so it can read no signing secret, token hash or custom
--   header value, and it holds no privilege to write anything.
-- Views carry no ORDER BY: sorting every read of a history table is the DBA's call, not the view's.

create schema hookledger_audit;
comment on schema hookledger_audit is
  'hookledger audit views for DBAs: read-only, row-level security applies (security_invoker); hookledger_auditor reads them across tenants.';
grant usage on schema hookledger_audit to hookledger_app, hookledger_auditor;

-- Why a virtual column on the ledger: the views are security_invoker, so whoever reads them needs SELECT on
-- every column they reference. Had the views read `data`, the auditor would need SELECT on `data` and could read
-- token.created's token_sha256 (the very value api_tokens.token_hash hides from it) and subscriptions' custom
-- header values (often an Authorization credential for the receiver) straight from the table. PostgreSQL checks
-- a virtual generated column's own privilege, not those of the columns it is computed from, so the auditor is
-- granted this column and not `data`. Virtual: no storage, no table rewrite, and monthly partitions created
-- later (`partition of`) inherit it.
alter table hookledger.ledger add column redacted_data jsonb generated always as (
  case
    when jsonb_typeof(data -> 'headers') = 'object'
      then jsonb_set(data - 'token_sha256', '{headers}', jsonb_path_query_array(data, '$.headers.keyvalue().key'))
    when data ? 'headers'
      then data - 'token_sha256' - 'headers'
    else data - 'token_sha256'
  end
) virtual;
comment on column hookledger.ledger.redacted_data is
  'data as auditors may read it: token_sha256 removed and a headers object reduced to its header names. Computed on read, not stored.';

-- delivery_history ------------------------------------------------------------------------------------------------
-- Why outer joins: an attempt is immutable history and must stay visible even if a later retention run or a
-- projection rebuild has removed the row it would join to.
create view hookledger_audit.delivery_history with (security_invoker = true) as
select a.org_id,
       a.event_id,
       e.event_type,
       d.app_id,
       a.subscription_id,
       s.url              as subscription_url,
       a.delivery_id,
       a.attempt_id,
       a.attempt_number,
       a.outcome,
       a.error_class,
       a.error_message,
       a.duration_ms,
       a.status_code,
       a.attempted_at,
       a.next_attempt_at,
       d.status           as delivery_status,
       d.reason           as delivery_reason
from hookledger.delivery_attempts a
left join hookledger.deliveries d on d.org_id = a.org_id and d.delivery_id = a.delivery_id
left join hookledger.events e on e.org_id = a.org_id and e.event_id = a.event_id
left join hookledger.subscriptions s on s.org_id = a.org_id and s.subscription_id = a.subscription_id;

comment on view hookledger_audit.delivery_history is
  'One row per delivery attempt, with its event, subscription and the delivery''s current state. Filter on org_id, subscription_id, event_id or attempted_at: those use indexes.';
comment on column hookledger_audit.delivery_history.org_id is 'Tenant (organization id).';
comment on column hookledger_audit.delivery_history.event_id is 'Producer-chosen id of the event delivered (also the webhook-id header receivers deduplicate on).';
comment on column hookledger_audit.delivery_history.event_type is 'Dotted event type, e.g. invoice.paid; NULL when the event row is gone (retention).';
comment on column hookledger_audit.delivery_history.app_id is 'Application the event and subscription belong to.';
comment on column hookledger_audit.delivery_history.subscription_id is 'Subscription (endpoint) the attempt was sent to.';
comment on column hookledger_audit.delivery_history.subscription_url is 'Current URL of the subscription (it may have changed since the attempt).';
comment on column hookledger_audit.delivery_history.delivery_id is 'The (event, subscription) delivery this attempt belongs to; retries share it.';
comment on column hookledger_audit.delivery_history.attempt_id is 'Unique id of this attempt.';
comment on column hookledger_audit.delivery_history.attempt_number is 'Attempt number within the delivery, from 1.';
comment on column hookledger_audit.delivery_history.outcome is 'succeeded (2xx answer) or failed.';
comment on column hookledger_audit.delivery_history.error_class is 'Why a failed attempt failed: timeout, connection, tls, dns, blocked (egress policy) or http_status (non-2xx answer); NULL on success.';
comment on column hookledger_audit.delivery_history.error_message is 'Short human-readable error of a failed attempt; NULL on success.';
comment on column hookledger_audit.delivery_history.duration_ms is 'Time from sending the request to the end of the response (or the error), in milliseconds.';
comment on column hookledger_audit.delivery_history.status_code is 'HTTP status the endpoint answered; NULL when no answer arrived (timeout, connection, tls, dns, blocked).';
comment on column hookledger_audit.delivery_history.attempted_at is 'When the attempt was recorded.';
comment on column hookledger_audit.delivery_history.next_attempt_at is 'When the retry after this failed attempt was scheduled; NULL after a success or the last attempt.';
comment on column hookledger_audit.delivery_history.delivery_status is 'Current state of the whole delivery: pending, retrying, succeeded, failed (attempts exhausted) or cancelled.';
comment on column hookledger_audit.delivery_history.delivery_reason is 'Why the delivery exists: fanout (event received), replay, or test (subscription ping).';

-- event_log -------------------------------------------------------------------------------------------------------
create view hookledger_audit.event_log with (security_invoker = true) as
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
       l.redacted_data               as data
from hookledger.ledger l;

comment on view hookledger_audit.event_log is
  'Every ledger entry (API mutations, worker and system actions) with its actor and request metadata spelled out. Filter on org_id, type, stream, recorded_at or position; predicates on data are not index-backed.';
comment on column hookledger_audit.event_log.position is 'Global append order (gaps possible). Not safe for tailing under concurrent writers: see hookledger.ledger.xact_id.';
comment on column hookledger_audit.event_log.org_id is 'Tenant (organization id); 00000000-0000-0000-0000-000000000000 for instance-level entries.';
comment on column hookledger_audit.event_log.stream is 'Aggregate the entry belongs to, as kind:id (e.g. subscription:9f0c…).';
comment on column hookledger_audit.event_log.version is 'Position of the entry within its stream, from 1.';
comment on column hookledger_audit.event_log.type is 'Dotted, past-tense entry type, e.g. subscription.created, delivery.attempted.';
comment on column hookledger_audit.event_log.recorded_at is 'When the entry was appended (start of the appending transaction).';
comment on column hookledger_audit.event_log.actor_kind is 'Who acted: token (API token), instance_admin, worker (delivery task) or system; NULL if unrecorded.';
comment on column hookledger_audit.event_log.actor_id is 'Id of the acting API token (for token and instance_admin actors).';
comment on column hookledger_audit.event_log.actor_label is 'Label of the acting token at the time of the action.';
comment on column hookledger_audit.event_log.request_id is 'X-Request-ID of the API request that caused the entry (echoed to the client).';
comment on column hookledger_audit.event_log.ip is 'Client IP address of the API request, as text.';
comment on column hookledger_audit.event_log.user_agent is 'User-Agent of the API request (first 512 characters).';
comment on column hookledger_audit.event_log.reason is 'Reason given in the X-Audit-Reason header, if any.';
comment on column hookledger_audit.event_log.data is 'Entry payload with token hashes removed and custom header values reduced to header names (hookledger.ledger.redacted_data).';

-- audit_log -------------------------------------------------------------------------------------------------------
-- Why actor_kind and not meta: actor_kind is a stored plain column, so the filter is leakproof text equality and
-- runs on ledger_audit_idx under row-level security instead of after the policy on every row.
create view hookledger_audit.audit_log with (security_invoker = true) as
select l.recorded_at,
       l.org_id,
       l.actor_kind,
       l.actor_id,
       l.meta -> 'actor' ->> 'label' as actor_label,
       l.type,
       l.stream,
       l.redacted_data               as data,
       l.meta ->> 'reason'           as reason,
       l.meta ->> 'ip'               as ip,
       l.meta ->> 'user_agent'       as user_agent,
       l.meta ->> 'request_id'       as request_id,
       l.position
from hookledger.ledger l
where l.actor_kind in ('token', 'instance_admin');

comment on view hookledger_audit.audit_log is
  'Mutations made by people and their tokens (actor token or instance_admin): who, what, why, when and from where. Worker and system entries are in event_log.';
comment on column hookledger_audit.audit_log.recorded_at is 'When: the time the mutation was recorded.';
comment on column hookledger_audit.audit_log.org_id is 'Tenant (organization id) the mutation belongs to.';
comment on column hookledger_audit.audit_log.actor_kind is 'Who, by kind: token (an organization or application token) or instance_admin.';
comment on column hookledger_audit.audit_log.actor_id is 'Who: id of the API token used (see api_tokens / GET /v1/tokens/{id}).';
comment on column hookledger_audit.audit_log.actor_label is 'Who, readable: label of the token at the time of the mutation.';
comment on column hookledger_audit.audit_log.type is 'What: the entry type, e.g. subscription.created, token.revoked.';
comment on column hookledger_audit.audit_log.stream is 'What: the object changed, as kind:id.';
comment on column hookledger_audit.audit_log.data is 'What: the change itself, with token hashes removed and custom header values reduced to header names.';
comment on column hookledger_audit.audit_log.reason is 'Why: the X-Audit-Reason header of the request, if given.';
comment on column hookledger_audit.audit_log.ip is 'From where: client IP address of the request, as text.';
comment on column hookledger_audit.audit_log.user_agent is 'From where: User-Agent of the request.';
comment on column hookledger_audit.audit_log.request_id is 'From where: X-Request-ID of the request, to match application logs.';
comment on column hookledger_audit.audit_log.position is 'Global ledger position of the entry (ties in recorded_at are broken by it).';

-- failing_endpoints -----------------------------------------------------------------------------------------------
-- Why a lateral "last failed attempt": the subscription row says how long it has been failing but not how; the
-- lookup is one index probe per failing subscription (delivery_attempts_subscription_idx).
create view hookledger_audit.failing_endpoints with (security_invoker = true) as
select s.org_id,
       o.name            as org_name,
       s.app_id,
       ap.name           as app_name,
       s.subscription_id,
       s.url,
       s.consecutive_failures,
       s.failing_since,
       s.last_success_at,
       s.last_failure_at,
       last_failure.status_code as last_status_code,
       last_failure.error_class as last_error_class,
       s.enabled,
       s.auto_disabled_at,
       s.disabled_reason
from hookledger.subscriptions s
left join hookledger.organizations o on o.org_id = s.org_id
left join hookledger.applications ap on ap.org_id = s.org_id and ap.app_id = s.app_id
left join lateral (
  select a.status_code, a.error_class
  from hookledger.delivery_attempts a
  where a.org_id = s.org_id and a.subscription_id = s.subscription_id and a.outcome = 'failed'
  order by a.attempted_at desc, a.attempt_id desc
  limit 1
) last_failure on true
where s.deleted_at is null
  and (s.consecutive_failures > 0 or s.auto_disabled_at is not null);

comment on view hookledger_audit.failing_endpoints is
  'Subscriptions failing right now (at least one failed attempt since their last success) or auto-disabled for failing too long. Deleted subscriptions are left out.';
comment on column hookledger_audit.failing_endpoints.org_id is 'Tenant (organization id).';
comment on column hookledger_audit.failing_endpoints.org_name is 'Organization name.';
comment on column hookledger_audit.failing_endpoints.app_id is 'Application the subscription belongs to.';
comment on column hookledger_audit.failing_endpoints.app_name is 'Application name.';
comment on column hookledger_audit.failing_endpoints.subscription_id is 'The failing subscription (endpoint).';
comment on column hookledger_audit.failing_endpoints.url is 'Endpoint URL deliveries are sent to.';
comment on column hookledger_audit.failing_endpoints.consecutive_failures is 'Failed attempts since the last successful one; drives auto-disable.';
comment on column hookledger_audit.failing_endpoints.failing_since is 'Time of the first failure after the last success.';
comment on column hookledger_audit.failing_endpoints.last_success_at is 'Time of the last successful attempt; NULL if it never succeeded.';
comment on column hookledger_audit.failing_endpoints.last_failure_at is 'Time of the last failed attempt.';
comment on column hookledger_audit.failing_endpoints.last_status_code is 'HTTP status of the last failed attempt; NULL when it got no answer (see last_error_class).';
comment on column hookledger_audit.failing_endpoints.last_error_class is 'Error class of the last failed attempt: timeout, connection, tls, dns, blocked or http_status.';
comment on column hookledger_audit.failing_endpoints.enabled is 'False when disabled, by hand or automatically; a disabled subscription receives nothing.';
comment on column hookledger_audit.failing_endpoints.auto_disabled_at is 'When hookledger disabled the subscription for failing too long; NULL if it was not auto-disabled.';
comment on column hookledger_audit.failing_endpoints.disabled_reason is 'Why it is disabled: auto_disabled, or the reason given when disabled by hand.';

-- tenant_usage ----------------------------------------------------------------------------------------------------
-- Why union all then group (not a join of two aggregates): an org_id filter on the view is pushed into both
-- branches and served by the (org_id, received_at) / (org_id, attempted_at) indexes; a full join of aggregates
-- would aggregate every tenant first. Why UTC days: the same numbers whatever the reader's TimeZone setting.
create view hookledger_audit.tenant_usage with (security_invoker = true) as
select u.org_id,
       o.name as org_name,
       u.day,
       u.events_received,
       u.deliveries_attempted,
       u.attempts,
       u.attempts_succeeded,
       u.attempts_failed,
       round(u.attempts_succeeded::numeric / nullif(u.attempts, 0), 4) as success_rate
from (
  select t.org_id,
         t.day,
         count(*) filter (where t.source = 'event')      as events_received,
         count(distinct t.delivery_id)                   as deliveries_attempted,
         count(*) filter (where t.source = 'attempt')    as attempts,
         count(*) filter (where t.outcome = 'succeeded') as attempts_succeeded,
         count(*) filter (where t.outcome = 'failed')    as attempts_failed
  from (
    select e.org_id, (e.received_at at time zone 'UTC')::date as day, 'event' as source, null::uuid as delivery_id, null::text as outcome
    from hookledger.events e
    union all
    select a.org_id, (a.attempted_at at time zone 'UTC')::date, 'attempt', a.delivery_id, a.outcome
    from hookledger.delivery_attempts a
  ) t
  group by t.org_id, t.day
) u
left join hookledger.organizations o on o.org_id = u.org_id;

comment on view hookledger_audit.tenant_usage is
  'Per organization and UTC day: events received, deliveries attempted, attempts and their outcomes. Computed on read from events and delivery_attempts: filter on org_id to stay on indexes.';
comment on column hookledger_audit.tenant_usage.org_id is 'Tenant (organization id).';
comment on column hookledger_audit.tenant_usage.org_name is 'Organization name.';
comment on column hookledger_audit.tenant_usage.day is 'Calendar day in UTC.';
comment on column hookledger_audit.tenant_usage.events_received is 'Events accepted from producers that day (POST /v1/events).';
comment on column hookledger_audit.tenant_usage.deliveries_attempted is 'Distinct deliveries with at least one attempt that day.';
comment on column hookledger_audit.tenant_usage.attempts is 'Delivery attempts made that day, retries included.';
comment on column hookledger_audit.tenant_usage.attempts_succeeded is 'Attempts answered with a 2xx status.';
comment on column hookledger_audit.tenant_usage.attempts_failed is 'Attempts that failed (non-2xx answer, timeout, connection, tls, dns or blocked).';
comment on column hookledger_audit.tenant_usage.success_rate is 'attempts_succeeded / attempts, from 0 to 1 (4 decimals); NULL on a day without attempts.';

-- secret_rotations ------------------------------------------------------------------------------------------------
-- Reads redacted_data like the other ledger views; these entry types carry key ids only, never a secret.
create view hookledger_audit.secret_rotations with (security_invoker = true) as
select l.recorded_at,
       l.org_id,
       case l.type when 'subscription.secret_rotated' then 'rotated' else 'revealed' end as kind,
       (l.redacted_data ->> 'subscription_id')::uuid          as subscription_id,
       s.app_id,
       s.url                                                  as subscription_url,
       l.redacted_data ->> 'key_id'                           as key_id,
       l.redacted_data ->> 'previous_key_id'                  as previous_key_id,
       (l.redacted_data ->> 'previous_expires_at')::timestamptz as previous_key_expires_at,
       l.actor_kind,
       l.actor_id,
       l.meta -> 'actor' ->> 'label'                          as actor_label,
       l.meta ->> 'reason'                                    as reason,
       l.meta ->> 'ip'                                        as ip,
       l.meta ->> 'user_agent'                                as user_agent,
       l.meta ->> 'request_id'                                as request_id,
       l.position
from hookledger.ledger l
left join hookledger.subscriptions s
  on s.org_id = l.org_id and s.subscription_id = (l.redacted_data ->> 'subscription_id')::uuid
where l.type in ('subscription.secret_rotated', 'subscription.secret_revealed');

comment on view hookledger_audit.secret_rotations is
  'Signing-secret rotations and reveals of subscriptions: who, when, which key ids. Key ids only: secrets never enter the ledger.';
comment on column hookledger_audit.secret_rotations.recorded_at is 'When the secret was rotated or revealed.';
comment on column hookledger_audit.secret_rotations.org_id is 'Tenant (organization id).';
comment on column hookledger_audit.secret_rotations.kind is 'rotated (a new signing secret was generated) or revealed (the current secret was read through the API).';
comment on column hookledger_audit.secret_rotations.subscription_id is 'Subscription whose secret it is.';
comment on column hookledger_audit.secret_rotations.app_id is 'Application of the subscription; NULL if the subscription row is gone.';
comment on column hookledger_audit.secret_rotations.subscription_url is 'Current endpoint URL of the subscription.';
comment on column hookledger_audit.secret_rotations.key_id is 'Key id of the new secret (rotated) or of the secret shown (revealed).';
comment on column hookledger_audit.secret_rotations.previous_key_id is 'Key id of the secret replaced by a rotation; NULL for reveals.';
comment on column hookledger_audit.secret_rotations.previous_key_expires_at is 'Until when the replaced secret still signs (rotation overlap); NULL for reveals.';
comment on column hookledger_audit.secret_rotations.actor_kind is 'Who, by kind: token, instance_admin, worker or system.';
comment on column hookledger_audit.secret_rotations.actor_id is 'Id of the API token that rotated or revealed the secret.';
comment on column hookledger_audit.secret_rotations.actor_label is 'Label of that token at the time.';
comment on column hookledger_audit.secret_rotations.reason is 'Reason given in the X-Audit-Reason header, if any.';
comment on column hookledger_audit.secret_rotations.ip is 'Client IP address of the request, as text.';
comment on column hookledger_audit.secret_rotations.user_agent is 'User-Agent of the request.';
comment on column hookledger_audit.secret_rotations.request_id is 'X-Request-ID of the request.';
comment on column hookledger_audit.secret_rotations.position is 'Global ledger position of the entry.';

-- Grants ----------------------------------------------------------------------------------------------------------
-- The service role already reads the underlying tables under its tenant policy; it gets the views, nothing more.
grant select on hookledger_audit.delivery_history, hookledger_audit.event_log, hookledger_audit.audit_log,
  hookledger_audit.failing_endpoints, hookledger_audit.tenant_usage, hookledger_audit.secret_rotations
  to hookledger_app, hookledger_auditor;

-- The auditor reads the columns the views reference and nothing else (security_invoker checks each one). Left
-- out on purpose: ledger.data (see redacted_data), subscriptions.headers and metadata, events.payload,
-- delivery_attempts.response_headers/response_excerpt; and whole tables: subscription_secrets, api_tokens,
-- token_usage, ledger_streams, event_types.
grant select (org_id, position, stream, version, type, recorded_at, actor_kind, actor_id, meta, redacted_data)
  on hookledger.ledger to hookledger_auditor;
grant select (org_id, attempt_id, delivery_id, event_id, subscription_id, attempt_number, outcome, status_code,
              error_class, error_message, duration_ms, attempted_at, next_attempt_at)
  on hookledger.delivery_attempts to hookledger_auditor;
grant select (org_id, delivery_id, app_id, status, reason) on hookledger.deliveries to hookledger_auditor;
grant select (org_id, event_id, app_id, event_type, received_at) on hookledger.events to hookledger_auditor;
grant select (org_id, subscription_id, app_id, url, enabled, disabled_reason, consecutive_failures, failing_since,
              last_success_at, last_failure_at, auto_disabled_at, deleted_at)
  on hookledger.subscriptions to hookledger_auditor;
grant select (org_id, name) on hookledger.organizations to hookledger_auditor;
grant select (org_id, app_id, name) on hookledger.applications to hookledger_auditor;

-- Row-level security is forced on these tables; a permissive SELECT-only policy for the auditor is OR-ed with
-- tenant_isolation, so the auditor sees every tenant's rows and still has no policy (and no grant) to write.
do $$
declare
  t text;
begin
  foreach t in array array['ledger', 'delivery_attempts', 'deliveries', 'events', 'subscriptions', 'organizations', 'applications'] loop
    execute format('create policy auditor_read on hookledger.%I for select to hookledger_auditor using (true)', t);
    execute format('comment on policy auditor_read on hookledger.%I is %L', t,
      'hookledger_auditor reads every tenant''s rows (for the hookledger_audit views); it writes nothing.');
  end loop;
end
$$;
