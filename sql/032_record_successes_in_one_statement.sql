-- Recording delivered attempts in one statement.
--
-- Why: most recorded groups are successes to healthy endpoints, and each paid a transaction of five round trips
-- (set tenant, append, three projections, commit) while its session sat idle in transaction whenever the worker
-- waited for a CPU (3.4 sessions on average in the steady-state bench). hookledger.record_successes writes such a
-- group in autocommit with one call. Everything else (failures, retries, an endpoint that was failing or whose
-- circuit is open) keeps the transactional path, which orders endpoint health and opens circuits.

-- The delivery.attempted projections as functions, so the TypeScript projections (live and rebuild) and
-- record_successes run the same statements. Rows: the entry data plus org_id and `at` (recorded time).
create function hookledger.project_attempts(p_rows jsonb) returns void
language sql as $$
  insert into hookledger.delivery_attempts (org_id, attempt_id, delivery_id, event_id, subscription_id, attempt_number, outcome,
    status_code, error_class, error_message, duration_ms, response_headers, response_excerpt, attempted_at, next_attempt_at)
  select org_id, attempt_id, delivery_id, event_id, subscription_id, attempt_number, outcome, status_code, error_class,
    error_message, duration_ms, response_headers, response_excerpt, at, next_attempt_at
  from jsonb_to_recordset(p_rows) as r(
    org_id uuid, attempt_id uuid, delivery_id uuid, event_id text, subscription_id uuid, attempt_number integer, outcome text,
    status_code integer, error_class text, error_message text, duration_ms integer, response_headers jsonb, response_excerpt text,
    at timestamptz, next_attempt_at timestamptz)
$$;

-- Rows: at most one per delivery (the last attempt of the run).
create function hookledger.project_deliveries_attempted(p_rows jsonb) returns void
language sql as $$
  update hookledger.deliveries d set
    attempts = r.attempt_number,
    status = case when r.outcome = 'succeeded' then 'succeeded' when r.next_attempt_at is not null then 'retrying' else d.status end,
    next_attempt_at = r.next_attempt_at,
    last_attempt_at = r.at,
    last_status_code = r.status_code,
    last_error_class = r.error_class,
    completed_at = case when r.outcome = 'succeeded' then r.at else d.completed_at end,
    updated_at = r.at
  from jsonb_to_recordset(p_rows) as r(
    org_id uuid, delivery_id uuid, attempt_number integer, outcome text, status_code integer, error_class text,
    next_attempt_at timestamptz, at timestamptz)
  where d.org_id = r.org_id and d.delivery_id = r.delivery_id
$$;

-- Rows: one per subscription, the run's health summary (last success, failures after it, first and last failure).
-- A healthy endpoint's row is written only when its last success moves to a later second.
create function hookledger.project_endpoint_health(p_rows jsonb) returns void
language sql as $$
  update hookledger.subscriptions s set
    consecutive_failures = case when r.last_success_at is null then s.consecutive_failures + r.failures else r.failures end,
    failing_since = case when r.failures = 0 then null
                         when r.last_success_at is null then coalesce(s.failing_since, r.first_failure_at)
                         else r.first_failure_at end,
    last_success_at = coalesce(date_trunc('second', r.last_success_at), s.last_success_at),
    last_failure_at = coalesce(r.last_failure_at, s.last_failure_at)
  from jsonb_to_recordset(p_rows) as r(
    org_id uuid, subscription_id uuid, last_success_at timestamptz, failures integer, first_failure_at timestamptz, last_failure_at timestamptz)
  where s.org_id = r.org_id and s.subscription_id = r.subscription_id
    and (r.failures > 0 or s.consecutive_failures <> 0 or s.failing_since is not null or s.last_success_at is null
         or s.last_success_at < date_trunc('second', r.last_success_at))
$$;

revoke all on function hookledger.project_attempts(jsonb), hookledger.project_deliveries_attempted(jsonb),
  hookledger.project_endpoint_health(jsonb) from public;
grant execute on function hookledger.project_attempts(jsonb), hookledger.project_deliveries_attempted(jsonb),
  hookledger.project_endpoint_health(jsonb) to hookledger_app;

-- One group of successful attempts, one delivery.attempted entry each, appended at the delivery-stream versions
-- read before sending (HL409 when another run recorded one first; the caller then takes the transactional path,
-- which drops it). Runs as the caller (row-level security applies) with the tenant set here.
create function hookledger.record_successes(p_org_id uuid, p_streams text[], p_expected integer[], p_entries jsonb)
returns void
language plpgsql as $$
declare
  rows jsonb;
begin
  perform set_config('hookledger.org_id', p_org_id::text, true);
  if exists (select from jsonb_array_elements(p_entries) e where e->>'type' <> 'delivery.attempted' or e->'data'->>'outcome' <> 'succeeded') then
    raise exception 'record_successes: only delivery.attempted entries of successful attempts' using errcode = '22023';
  end if;
  perform from hookledger.append_entries(p_streams, p_expected, array_fill(1, array[cardinality(p_streams)]), p_entries);
  rows := hookledger.entry_rows(p_entries, p_org_id, 'delivery.attempted');
  perform hookledger.project_attempts(rows);
  perform hookledger.project_deliveries_attempted(rows);
  perform hookledger.project_endpoint_health(coalesce(
    (select jsonb_agg(distinct jsonb_build_object('org_id', p_org_id, 'subscription_id', e->'data'->>'subscription_id',
       'last_success_at', to_jsonb(date_trunc('milliseconds', now())), 'failures', 0, 'first_failure_at', null, 'last_failure_at', null))
     from jsonb_array_elements(p_entries) e), '[]'));
end
$$;
revoke all on function hookledger.record_successes(uuid, text[], integer[], jsonb) from public;
grant execute on function hookledger.record_successes(uuid, text[], integer[], jsonb) to hookledger_app;
comment on function hookledger.record_successes(uuid, text[], integer[], jsonb) is
  'Records a group of successful delivery attempts (entries and their three projections) in one statement; see sql/032.';
