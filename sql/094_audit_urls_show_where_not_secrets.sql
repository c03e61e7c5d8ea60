-- Auditors read where an endpoint is, never a credential in its URL: every query value, the fragment, userinfo and
-- every path segment that could be a credential read `[redacted]`.
--
-- Why: sql/090 and sql/092 hid the values of query parameters whose NAMES looked like credentials (a denylist), so
-- everything else a receiver chose reached every DBA granted hookledger_auditor and every audit:read token:
-- `?code=…` (OAuth), `?k=…`, `?hash=…`, a secret in the PATH (Slack's /services/T…/B…/<token>, Discord's
-- /webhooks/<id>/<token>, Zapier's /hooks/catch/<id>/<hook id>/, a bare /hooks/<40 hex>, a Power Automate
-- /workflows/<id>/…) and a fragment (`#access_token=…`). A name denylist cannot know what a receiver calls its secret,
-- and a path has no names at all, so the rule now keeps only what says WHERE the endpoint is:
--
-- * scheme, host and port as they are; userinfo (`user:pass@`, refused on new URLs) as `[redacted]@`;
-- * every query value as `[redacted]`, names kept (`?code=[redacted]&state=[redacted]`); a part with no `=` (`?abc`)
--   is a value with no name and reads `[redacted]`. `&` and `;` separate parameters (sql/092);
-- * the fragment, when not empty, as `#[redacted]` (new subscription URLs drop it; older entries and other URLs may not);
-- * a path parameter's value (`;jsessionid=…`, `/k=…/`) as `[redacted]`;
-- * every path segment that could be a credential as `[redacted]`: 16 characters or more (a 16-20 digit number
--   excepted: Discord's and Twitter's snowflake ids are ids, not secrets), or 6 or more that mix letters and digits
--   (Zapier's hook ids are 7 such characters; `T0000`, `v1`, `2016-06-01`, `invoke` stay). A segment is what lies
--   between `/`, `;` and `=`; a percent-escape counts as the three characters it is written with.
--
-- What cannot be told, and is shown: a path segment of fewer than 16 characters holding no digit (a 6-letter hook
-- id), a query parameter's NAME (receivers put secrets in values; a part with no `=` is hidden), and a host name
-- (`<id>.m.pipedream.net`): the host is what says where the endpoint is.
--
-- One rule, written once: the expression below (%1$s: the URL) builds subscriptions.url_for_audit, the ledger's
-- redacted_data for a `url` and an `auth.url`, and hookledger.url_for_audit(text) (the same rule callable, for tests
-- and DBAs with the owner's rights; src/observability/redactedUrl.ts is the same rule in TypeScript). Virtual
-- generated columns take built-in immutable functions only, so the rule is spelled out in each, from one text.
-- PostgreSQL 18 cannot set a virtual column's expression on a table with check constraints (subscriptions has some):
-- the new column is added beside the old, the three views read it, the old is dropped and the new takes its name
-- (views follow a column by number). The ledger's column is set in place. Nothing is rewritten.
--
-- Cost: nothing on the ledger's writes (no check constraint nor stored column expands redacted_data since sql/080).
-- PostgreSQL 18 builds every virtual column's expression into each check constraint it prepares, once per statement
-- that writes a subscriptions row: the five checks now parse ~8.9 kB of expression instead of ~1.8 kB, which adds
-- ~115 us to such a statement where sql/092's column added ~30 us (measured with a loop of single-row INSERTs into a
-- copy with the same five checks: 27 us each without a virtual column). Subscriptions are written by the API, by
-- projections of endpoint health changes, and by record_successes' health CTE when an endpoint's last success moves
-- to a later second: once per statement, not per row.
--
-- The tenant still reads its own URL whole through the API (GET /v1/subscriptions/{id}).

do $migration$
declare
  -- A path segment (ended by /, ; or =) that could be a credential.
  credential_segment constant text :=
    '(?<![^/;=])(?:(?![0-9]{16,20}(?![^/;=]))[^/;=]{16,}|(?=[^/;=]*[A-Za-z])(?=[^/;=]*[0-9])[^/;=]{6,})(?![^/;=])';
  -- Scheme and authority, path, query, fragment: every string matches.
  parts constant text := '^([A-Za-z][A-Za-z0-9+.-]*:(?://[^/?#]*)?)?([^?#]*)(\?[^#]*)?(#.*)?$';
  rule text;
begin
  rule := format($rule$(
    coalesce(regexp_replace((regexp_match(%%1$s, %1$L))[1], '^([^/]*//)[^/]*@', '\1[redacted]@'), '')
    || regexp_replace(regexp_replace((regexp_match(%%1$s, %1$L))[2], '=[^/;]*', '=[redacted]', 'g'), %2$L, '[redacted]', 'g')
    || coalesce(regexp_replace(regexp_replace((regexp_match(%%1$s, %1$L))[3],
         '=[^&;]*', '=[redacted]', 'g'), '([?&;])[^&;=]+(?=[&;]|$)', '\1[redacted]', 'g'), '')
    || coalesce(regexp_replace((regexp_match(%%1$s, %1$L))[4], '^#.+$', '#[redacted]'), '')
  )$rule$, parts, credential_segment);

  execute format($sql$create or replace function hookledger.url_for_audit(url text) returns text
    language sql immutable parallel safe strict as $fn$select %s$fn$$sql$, format(rule, 'url'));
  execute 'comment on function hookledger.url_for_audit(text) is '
    || quote_literal('A URL as auditors read it (sql/094): scheme, host, port and the path''s shape; every query value, the fragment, userinfo and every path segment that could be a credential as [redacted]. The expression of subscriptions.url_for_audit and of the ledger''s redacted_data urls.');

  execute format('alter table hookledger.subscriptions add column url_for_audit_094 text generated always as (%s) virtual', format(rule, 'url'));

  execute format($sql$alter table hookledger.ledger alter column redacted_data set expression as (
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
       then jsonb_object(array['url', %s])
       else '{}'::jsonb end
  || case when jsonb_typeof(data -> 'auth' -> 'url') = 'string'
       then jsonb_set('{}', '{auth}', jsonb_set(data -> 'auth', '{url}', jsonb_object(array['url', %s]) -> 'url'))
       else '{}'::jsonb end
)$sql$, format(rule, $$(data ->> 'url')$$), format(rule, $$(data -> 'auth' ->> 'url')$$));
end
$migration$;

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
  'url as auditors read it (sql/094, hookledger.url_for_audit): scheme, host, port and the path''s shape; every query value, a fragment, userinfo and every path segment that could be a credential (16+ characters other than a 16-20 digit number, or 6+ mixing letters and digits) as [redacted]. Computed on read, not stored.';

comment on column hookledger_audit.delivery_history.subscription_url is 'Current URL of the subscription (it may have changed since the attempt) as auditors read it: every query value and every path segment that could be a credential as [redacted].';
comment on column hookledger_audit.failing_endpoints.url is 'Endpoint URL deliveries are sent to, as auditors read it: every query value and every path segment that could be a credential as [redacted].';
comment on column hookledger_audit.secret_rotations.subscription_url is 'Current endpoint URL of the subscription, as auditors read it: every query value and every path segment that could be a credential as [redacted].';

comment on column hookledger.ledger.redacted_data is
  'data as auditors and GET /v1/audit-log show it: token_sha256 and message bodies (payload, body_base64, response_excerpt) removed, headers and response_headers reduced to their header names (those of sealed_headers shown among the headers), sealed_headers removed, a configured admin token''s prefix shown as ''configured'', a url or auth.url as hookledger.url_for_audit shows it (every query value, a fragment, userinfo and every path segment that could be a credential as [redacted]). Computed on read, not stored.';
