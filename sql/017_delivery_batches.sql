-- Batched delivery: per-endpoint limits, the circuit breaker, and the index the retry promoter reads.

alter table hookledger.subscriptions
  add column max_concurrency       integer check (max_concurrency between 1 and 1000),
  add column rate_limit_per_second double precision check (rate_limit_per_second > 0 and rate_limit_per_second <= 10000),
  add column circuit_state         text not null default 'closed' check (circuit_state in ('closed', 'open')),
  add column circuit_opened_at     timestamptz,
  add column circuit_retry_at      timestamptz,
  add column circuit_opens         integer not null default 0;
comment on column hookledger.subscriptions.max_concurrency is 'Requests in flight to this endpoint per worker process; null = HOOKLEDGER_ENDPOINT_CONCURRENCY.';
comment on column hookledger.subscriptions.rate_limit_per_second is 'Deliveries per second to this endpoint across all workers (spread out, never dropped); null = unlimited.';
comment on column hookledger.subscriptions.circuit_state is 'Circuit breaker: open after repeated failures (deliveries wait, one probe at circuit_retry_at), closed after a success.';
comment on column hookledger.subscriptions.circuit_retry_at is 'When an open circuit lets one probe delivery through.';
comment on column hookledger.subscriptions.circuit_opens is 'Times the circuit opened since it last closed: the cooldown doubles with each.';

-- The next free send slot of a rate-limited endpoint, shared by every worker process. Not a projection: it is
-- pacing state, like a lock, and rebuilding it from the ledger would mean nothing.
create table hookledger.endpoint_pacing (
  org_id          uuid        not null,
  subscription_id uuid        not null,
  next_slot_at    timestamptz not null,
  primary key (org_id, subscription_id)
);
comment on table hookledger.endpoint_pacing is 'Next free delivery slot of each rate-limited subscription (rate_limit_per_second), reserved by workers.';
select hookledger_private.protect_tenant_table('hookledger.endpoint_pacing');

-- Retries far ahead live only on their delivery; the promoter finds those due in its time bucket.
create index deliveries_due_idx on hookledger.deliveries (org_id, next_attempt_at) where status in ('pending', 'retrying');

-- Batch jobs carry an array of items, each with its org_id: every item must belong to the transaction's tenant,
-- as a single object payload must.
create or replace function hookledger.enqueue_jobs(p_jobs jsonb) returns integer
language plpgsql security definer set search_path = pg_catalog, pg_temp
as $$
declare
  added integer;
begin
  if hookledger.current_org_id() is null then
    raise exception 'enqueue_jobs: no tenant set for this transaction' using errcode = '42501';
  end if;
  if exists (
    select from jsonb_array_elements(p_jobs) j
    cross join lateral jsonb_array_elements(case when jsonb_typeof(j->'payload') = 'array' then j->'payload' else jsonb_build_array(j->'payload') end) item
    where item->>'org_id' is distinct from hookledger.current_org_id()::text
  ) then
    raise exception 'enqueue_jobs: every job payload (and every item of a batch payload) must carry the org_id of this transaction' using errcode = '42501';
  end if;
  select count(*) into added
  from graphile_worker.add_jobs(
    array(select jsonb_populate_record(null::graphile_worker.job_spec, j) from jsonb_array_elements(p_jobs) j));
  return added;
end
$$;

-- The circuit breaker's state, for DBAs: failing_endpoints gains two columns (appended, so the view's existing
-- columns keep their positions) and lists endpoints whose circuit is open.
grant select (circuit_state, circuit_retry_at) on hookledger.subscriptions to hookledger_auditor;
create or replace view hookledger_audit.failing_endpoints with (security_invoker = true) as
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
where s.deleted_at is null
  and (s.consecutive_failures > 0 or s.auto_disabled_at is not null or s.circuit_state = 'open');
comment on view hookledger_audit.failing_endpoints is
  'Subscriptions failing right now (at least one failed attempt since their last success), with an open circuit, or auto-disabled for failing too long. Deleted subscriptions are left out.';
comment on column hookledger_audit.failing_endpoints.circuit_state is 'Circuit breaker: open = deliveries wait (no attempts) until circuit_retry_at, when one probe goes through; closed = normal.';
comment on column hookledger_audit.failing_endpoints.circuit_retry_at is 'When an open circuit lets its next probe through; NULL when closed.';
