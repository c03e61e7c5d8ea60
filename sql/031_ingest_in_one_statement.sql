-- Ingestion in one statement per batch.
--
-- Why: a batch written as a transaction of separate statements (reads, append, projections, jobs, counter, commit)
-- paid five round trips, and the pooled session sat idle in its transaction between them while the API process
-- waited for a CPU. The service now keeps what decides a batch (live applications, event types, subscriptions,
-- quotas) in memory per organization, and writes the batch with one call of hookledger.ingest_batch in autocommit:
-- one round trip, one commit. The call proves the memory current: every change that alters which events are
-- accepted or where they go bumps the organization's fan-out version, and a call made with an older version is
-- refused (SQLSTATE HL412) so the service reloads and takes the transactional path.

create table hookledger.fanout_versions (
  org_id  uuid   primary key,
  version bigint not null
);
comment on table hookledger.fanout_versions is
  'Per organization, a counter bumped by every change to what decides ingestion (applications, event types, enabled subscriptions and their filters, quotas); the ingest fast path checks it.';
select hookledger_private.protect_tenant_table('hookledger.fanout_versions');

create function hookledger_private.bump_fanout_version() returns trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
  changed uuid := case when tg_op = 'DELETE' then old.org_id else new.org_id end;
begin
  insert into hookledger.fanout_versions as f (org_id, version) values (changed, 1)
  on conflict (org_id) do update set version = f.version + 1;
  return null;
end
$$;
comment on function hookledger_private.bump_fanout_version() is
  'Trigger: a change to what decides ingestion for this row''s organization; bumps its fan-out version.';

create trigger applications_fanout_insert_delete after insert or delete on hookledger.applications
  for each row execute function hookledger_private.bump_fanout_version();
create trigger applications_fanout_update after update on hookledger.applications
  for each row when (old.deleted_at is distinct from new.deleted_at)
  execute function hookledger_private.bump_fanout_version();

create trigger event_types_fanout_insert_delete after insert or delete on hookledger.event_types
  for each row execute function hookledger_private.bump_fanout_version();
create trigger event_types_fanout_update after update on hookledger.event_types
  for each row when (old.schema is distinct from new.schema or old.deprecated is distinct from new.deprecated
                     or old.deleted_at is distinct from new.deleted_at)
  execute function hookledger_private.bump_fanout_version();

-- Delivery outcomes update subscriptions' health columns on every attempt; only filter and state changes count.
create trigger subscriptions_fanout_insert_delete after insert or delete on hookledger.subscriptions
  for each row execute function hookledger_private.bump_fanout_version();
create trigger subscriptions_fanout_update after update on hookledger.subscriptions
  for each row when (old.enabled is distinct from new.enabled or old.deleted_at is distinct from new.deleted_at
                     or old.event_types is distinct from new.event_types or old.labels is distinct from new.labels
                     or old.app_id is distinct from new.app_id)
  execute function hookledger_private.bump_fanout_version();

create trigger organizations_fanout_update after update on hookledger.organizations
  for each row when (old.quotas is distinct from new.quotas or old.deleted_at is distinct from new.deleted_at)
  execute function hookledger_private.bump_fanout_version();

-- The events and scheduled-deliveries projections as functions, so the TypeScript projections (live appends and
-- rebuilds) and ingest_batch run the same statement. Rows: the entry data plus org_id and `at` (recorded time).
create function hookledger.project_events_received(p_rows jsonb) returns void
language sql as $$
  insert into hookledger.events (org_id, event_id, app_id, event_type, content_type, payload_encoding, payload, payload_sha256,
    request_fingerprint, labels, occurred_at, received_at, deliveries_scheduled)
  select org_id, event_id, app_id, event_type, content_type, payload_encoding, payload, payload_sha256,
    coalesce(request_fingerprint, payload_sha256), labels, occurred_at, at, deliveries_scheduled
  from jsonb_to_recordset(p_rows) as r(
    org_id uuid, event_id text, app_id uuid, event_type text, content_type text, payload_encoding text, payload text,
    payload_sha256 text, request_fingerprint text, labels jsonb, occurred_at timestamptz, at timestamptz, deliveries_scheduled integer)
$$;

create function hookledger.project_deliveries_scheduled(p_rows jsonb) returns void
language sql as $$
  insert into hookledger.deliveries (org_id, delivery_id, event_id, subscription_id, app_id, status, reason, next_attempt_at, created_at, updated_at)
  select org_id, delivery_id, event_id, subscription_id, app_id, 'pending', reason, at, at, at
  from jsonb_to_recordset(p_rows) as r(
    org_id uuid, delivery_id uuid, event_id text, subscription_id uuid, app_id uuid, reason text, at timestamptz)
$$;

revoke all on function hookledger.project_events_received(jsonb), hookledger.project_deliveries_scheduled(jsonb) from public;
grant execute on function hookledger.project_events_received(jsonb), hookledger.project_deliveries_scheduled(jsonb) to hookledger_app;

-- add_jobs clears the key of locked jobs with the same key through a join the planner runs as a sequential scan
-- of the whole jobs table (measured: 2 ms per call with 2,000 queued jobs, the largest cost of an ingest batch);
-- with sequential scans off for this call it uses the key index.
alter function hookledger.enqueue_jobs(jsonb) set enable_seqscan = off;

-- A batch's entries of one type as projection rows: the entry data plus org_id and `at`, the recorded time (now(),
-- the transaction's start) at the millisecond, as the TypeScript projections receive it. Order kept.
create function hookledger.entry_rows(p_entries jsonb, p_org_id uuid, p_type text) returns jsonb
language sql stable as $$
  select coalesce(jsonb_agg(e->'data' || jsonb_build_object('org_id', p_org_id, 'at', date_trunc('milliseconds', now())) order by o), '[]')
  from jsonb_array_elements(p_entries) with ordinality as x(e, o) where e->>'type' = p_type
$$;
revoke all on function hookledger.entry_rows(jsonb, uuid, text) from public;
grant execute on function hookledger.entry_rows(jsonb, uuid, text) to hookledger_app;

-- Deliver jobs of a new batch, inserted as graphile-worker's add_jobs would insert unkeyed, unqueued jobs, without
-- its notification. Why: pg_notify takes a database-wide lock from before commit until the commit's WAL flush, so
-- every ingest transaction that notified waited for the previous one's flush (measured: 0.28 sessions waiting on
-- it on average, ingest serialised). The service notifies on its own, after commit and at most every few
-- milliseconds per process (outbound/jobWakeups.ts). The columns written are graphile-worker's public job spec;
-- test/outbound/ingestOneStatement.test.ts proves the jobs run.
create function hookledger.insert_deliver_jobs(p_jobs jsonb) returns integer
language plpgsql security definer set search_path = pg_catalog, pg_temp
as $$
declare
  added integer;
begin
  if hookledger.current_org_id() is null then
    raise exception 'insert_deliver_jobs: no tenant set for this transaction' using errcode = '42501';
  end if;
  if exists (
    select from jsonb_array_elements(p_jobs) j
    where j->>'identifier' is distinct from 'deliver' or j ? 'job_key' or j ? 'queue_name' or jsonb_typeof(j->'payload') is distinct from 'array'
  ) then
    raise exception 'insert_deliver_jobs: only unkeyed, unqueued deliver jobs with a batch payload' using errcode = '42501';
  end if;
  if exists (
    select from jsonb_array_elements(p_jobs) j cross join lateral jsonb_array_elements(j->'payload') item
    where item->>'org_id' is distinct from hookledger.current_org_id()::text
  ) then
    raise exception 'insert_deliver_jobs: every item must carry the org_id of this transaction' using errcode = '42501';
  end if;
  insert into graphile_worker._private_tasks (identifier) values ('deliver') on conflict do nothing;
  insert into graphile_worker._private_jobs (task_id, payload, run_at, max_attempts)
  select t.id, (j->'payload')::json, coalesce((j->>'run_at')::timestamptz, now()), (j->>'max_attempts')::smallint
  from jsonb_array_elements(p_jobs) with ordinality as x(j, o)
  cross join graphile_worker._private_tasks t
  where t.identifier = 'deliver'
  order by o;
  get diagnostics added = row_count;
  return added;
end
$$;
revoke all on function hookledger.insert_deliver_jobs(jsonb) from public;
grant execute on function hookledger.insert_deliver_jobs(jsonb) to hookledger_app;

-- One batch of new events: entries (event.received on new event streams, delivery.scheduled on new delivery
-- streams, in stream order), their projection rows, the delivery jobs and the day's counter, in the one
-- transaction of this statement. Runs as the caller (row-level security applies) with the tenant set here.
-- Refuses with HL412 when the caller's fan-out version is not current and HL429 when the batch would pass the
-- daily quota; HL409 (from append_entries) when an event id is taken. The caller then takes the transactional
-- path, which decides each event on fresh reads.
create function hookledger.ingest_batch(
  p_org_id uuid, p_fanout_version bigint, p_events_per_day bigint, p_day date, p_shard integer, p_accepted integer,
  p_streams text[], p_counts integer[], p_entries jsonb, p_jobs jsonb)
returns void
language plpgsql as $$
begin
  perform set_config('hookledger.org_id', p_org_id::text, true);
  if coalesce((select f.version from hookledger.fanout_versions f where f.org_id = p_org_id), 0) <> p_fanout_version then
    raise exception 'the organization''s fan-out configuration changed' using errcode = 'HL412';
  end if;
  if coalesce((select sum(u.events) from hookledger.usage_counters u where u.org_id = p_org_id and u.day = p_day), 0)
     + p_accepted > p_events_per_day then
    raise exception 'the batch would pass the daily event quota' using errcode = 'HL429';
  end if;
  perform from hookledger.append_entries(p_streams, array_fill(0, array[cardinality(p_streams)]), p_counts, p_entries);
  perform hookledger.project_events_received(hookledger.entry_rows(p_entries, p_org_id, 'event.received'));
  perform hookledger.project_deliveries_scheduled(hookledger.entry_rows(p_entries, p_org_id, 'delivery.scheduled'));
  if jsonb_array_length(p_jobs) > 0 then
    perform hookledger.insert_deliver_jobs(p_jobs);
  end if;
  insert into hookledger.usage_counters (org_id, day, shard, events) values (p_org_id, p_day, p_shard, p_accepted)
  on conflict (org_id, day, shard) do update set events = hookledger.usage_counters.events + excluded.events;
end
$$;
revoke all on function hookledger.ingest_batch(uuid, bigint, bigint, date, integer, integer, text[], integer[], jsonb, jsonb) from public;
grant execute on function hookledger.ingest_batch(uuid, bigint, bigint, date, integer, integer, text[], integer[], jsonb, jsonb) to hookledger_app;
comment on function hookledger.ingest_batch(uuid, bigint, bigint, date, integer, integer, text[], integer[], jsonb, jsonb) is
  'Writes a batch of new events (ledger entries, events and deliveries rows, deliver jobs, usage counter) in one statement; see sql/031.';
