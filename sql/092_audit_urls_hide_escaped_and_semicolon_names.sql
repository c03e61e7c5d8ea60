-- Auditors' URLs (sql/090) hide two more spellings of a credential-like query parameter (sweep 22):
--
-- * a name with a percent-escape in it: `?t%6Fken=…` is `?token=…` to every receiver that decodes names (all common
--   frameworks), but the name rule read `t%6Fken` and showed the value. The rule cannot decode (no built-in SQL
--   function does, and these columns take built-in immutable expressions only), so a value whose name holds any
--   escape is hidden: such names are rare in real URLs, and hiding a harmless value costs an auditor little;
-- * a `;` between parameters: `?x=1;api_key=…` and a path's `;jsessionid=…` are parameters to the servers that split
--   on `;` (Java servlet containers, older Rails and Python), but read as one value of `x` (or part of the path).
--   `;` now separates names as `?` and `&` do, and a value ends at a `?` (a path parameter's value ends there).
--
-- The tenant still reads its URL whole through the API. The expressions are sql/090's with the rule so extended.

-- The subscriptions table has check constraints, for which PostgreSQL 18 cannot set a virtual column's expression
-- in place: the new column is added beside the old, the three views read it, the old is dropped and the new takes
-- its name (views follow a column by number, not name). Virtual, so nothing is rewritten.
alter table hookledger.subscriptions add column url_for_audit_094 text generated always as (
  regexp_replace(url, '([?&;](?:[^=&;#"]*(?:authori[sz]ation|authenticat|cookie|secret|token|passw|credential|signature|signing|private|session|hmac)[^=&;#"]*|(?:[^=&;#"]*[-_.])?(?:auth|mac|sig|pass|pwd|jwt|bearer|otp|cert|access|[^=&;#"_.-]*keys?)(?:[-_.][^=&;#"]*)?|[^=&;#"]*%[0-9a-f]{2}[^=&;#"]*)=)[^?&;#"]*', '\1[redacted]', 'gi')
) virtual;
grant select (url_for_audit_094) on hookledger.subscriptions to hookledger_auditor;

create or replace view hookledger_audit.delivery_history with (security_invoker = true) as
select a.org_id,
       a.event_id,
       e.event_type,
       d.app_id,
       a.subscription_id,
       s.url_for_audit_094    as subscription_url,
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

create or replace view hookledger_audit.failing_endpoints with (security_invoker = true) as
select s.org_id,
       o.name            as org_name,
       s.app_id,
       ap.name           as app_name,
       s.subscription_id,
       s.url_for_audit_094   as url,
       s.consecutive_failures,
       s.failing_since,
       s.last_success_at,
       s.last_failure_at,
       last_failure.status_code as last_status_code,
       last_failure.error_class as last_error_class,
       s.enabled,
       s.auto_disabled_at,
       s.disabled_reason,
       s.circuit_state,
       s.circuit_retry_at
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
where s.deleted_at is null and (s.consecutive_failures > 0 or s.auto_disabled_at is not null or s.circuit_state = 'open');

create or replace view hookledger_audit.secret_rotations with (security_invoker = true) as
select l.recorded_at,
       l.org_id,
       case l.type when 'subscription.secret_rotated' then 'rotated' else 'revealed' end as kind,
       (l.redacted_data ->> 'subscription_id')::uuid          as subscription_id,
       s.app_id,
       s.url_for_audit_094                                        as subscription_url,
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

revoke select (url_for_audit) on hookledger.subscriptions from hookledger_auditor;
alter table hookledger.subscriptions drop column url_for_audit;
alter table hookledger.subscriptions rename column url_for_audit_094 to url_for_audit;
comment on column hookledger.subscriptions.url_for_audit is
  'url with the values of credential-like query parameters (api_key, access_token, sig…, any name holding a percent-escape; `;` separating parameters as `&` does) as [redacted]: what auditors read (sql/090, sql/092). Computed on read, not stored.';

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
  || case when jsonb_typeof(data -> 'url') = 'string'
       then jsonb_set('{}', '{url}', regexp_replace((data -> 'url')::text, '([?&;](?:[^=&;#"]*(?:authori[sz]ation|authenticat|cookie|secret|token|passw|credential|signature|signing|private|session|hmac)[^=&;#"]*|(?:[^=&;#"]*[-_.])?(?:auth|mac|sig|pass|pwd|jwt|bearer|otp|cert|access|[^=&;#"_.-]*keys?)(?:[-_.][^=&;#"]*)?|[^=&;#"]*%[0-9a-f]{2}[^=&;#"]*)=)[^?&;#"]*', '\1[redacted]', 'gi')::jsonb)
       else '{}'::jsonb end
  || case when jsonb_typeof(data -> 'auth' -> 'url') = 'string'
       then jsonb_set('{}', '{auth}', jsonb_set(data -> 'auth', '{url}', regexp_replace((data -> 'auth' -> 'url')::text, '([?&;](?:[^=&;#"]*(?:authori[sz]ation|authenticat|cookie|secret|token|passw|credential|signature|signing|private|session|hmac)[^=&;#"]*|(?:[^=&;#"]*[-_.])?(?:auth|mac|sig|pass|pwd|jwt|bearer|otp|cert|access|[^=&;#"_.-]*keys?)(?:[-_.][^=&;#"]*)?|[^=&;#"]*%[0-9a-f]{2}[^=&;#"]*)=)[^?&;#"]*', '\1[redacted]', 'gi')::jsonb))
       else '{}'::jsonb end
);

comment on column hookledger.ledger.redacted_data is
  'data as auditors and GET /v1/audit-log show it: token_sha256 and message bodies (payload, body_base64, response_excerpt) removed, headers and response_headers reduced to their header names (those of sealed_headers shown among the headers), sealed_headers removed, a configured admin token''s prefix shown as ''configured'', credential-like query parameter values of a url or auth.url as [redacted]. Computed on read, not stored.';
