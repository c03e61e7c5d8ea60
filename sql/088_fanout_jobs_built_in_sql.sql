-- A flush's deliver jobs are built by the database from the deliveries its entries name, not sent by the API.
--
-- Why: ingest_batch took the jobs as a jsonb parameter that repeated every delivery id of the entries (with the
-- organization id once per item): at fan-out 100, 11.8 KB of the 23.8 KB a flush sent per event, which the API
-- serialised and wrote to its socket and Postgres parsed and checked item by item (insert_deliver_jobs). postgres.js
-- binding the parameters and the socket writes were ~30% of the API's CPU in the fan-out bench (F=100), where the
-- API and Postgres share the machine's two cores.
--
-- The new ingest_batch (the same parameters, with the job shape instead of p_jobs) takes the delivery ids, in the
-- entries' order, from the `deliveries` lists its entries carry, and hands them to insert_fanout_jobs, which cuts
-- them into jobs of p_job_size deliveries (the same payloads as before: org_id, delivery_id, attempt 1, in order).
-- The jobs' organization is the transaction's own, so nothing the caller passes can queue another tenant's work.
-- The old ingest_batch (sql/082) stays for processes started before this migration (a rolling upgrade).

create function hookledger.insert_fanout_jobs(p_delivery_ids uuid[], p_job_size integer, p_priority integer, p_max_attempts integer)
returns integer
language plpgsql security definer set search_path = pg_catalog, pg_temp
as $$
declare
  org uuid := hookledger.current_org_id();
  task integer;
  added integer;
begin
  if org is null then
    raise exception 'insert_fanout_jobs: no tenant set for this transaction' using errcode = '42501';
  end if;
  if p_job_size is null or p_job_size not between 1 and 1000 or p_priority is null or p_priority not in (0, 1, 2)
     or p_max_attempts is null or p_max_attempts not between 1 and 25 then
    raise exception 'insert_fanout_jobs: a job size of 1-1000, a priority of 0, 1 or 2 and 1-25 attempts' using errcode = '42501';
  end if;
  select t.id into task from graphile_worker._private_tasks t where t.identifier = 'deliver';
  if task is null then
    insert into graphile_worker._private_tasks (identifier) values ('deliver') on conflict do nothing;
    select t.id into task from graphile_worker._private_tasks t where t.identifier = 'deliver';
  end if;
  insert into graphile_worker._private_jobs (task_id, payload, run_at, max_attempts, priority)
  select task,
         (select json_agg(json_build_object('org_id', org, 'delivery_id', u.id, 'attempt', 1) order by u.k)
          from unnest(p_delivery_ids[s.first : s.first + p_job_size - 1]) with ordinality as u(id, k)),
         now(), p_max_attempts::smallint, p_priority::smallint
  from generate_series(1, coalesce(cardinality(p_delivery_ids), 0), p_job_size) as s(first)
  order by s.first;
  get diagnostics added = row_count;
  return added;
end
$$;
revoke all on function hookledger.insert_fanout_jobs(uuid[], integer, integer, integer) from public;
grant execute on function hookledger.insert_fanout_jobs(uuid[], integer, integer, integer) to hookledger_app;
comment on function hookledger.insert_fanout_jobs(uuid[], integer, integer, integer) is
  'Queues the given new deliveries (attempt 1, due now) of the transaction''s organization as deliver jobs of p_job_size each, in order, without add_jobs'' NOTIFY; see sql/088.';

create function hookledger.ingest_batch(
  p_org_id uuid, p_fanout_version bigint, p_events_per_day bigint, p_day date, p_shard integer, p_accepted integer,
  p_streams text[], p_counts integer[], p_entries jsonb, p_job_size integer, p_job_priority integer, p_job_max_attempts integer)
returns void
language plpgsql as $$
declare
  fanout_version bigint;
  events_today bigint;
  written integer;
  delivery_ids uuid[];
  at timestamptz := date_trunc('milliseconds', now());
begin
  perform set_config('hookledger.org_id', p_org_id::text, true);
  select coalesce((select f.version from hookledger.fanout_versions f where f.org_id = p_org_id), 0) into fanout_version;
  events_today := hookledger.events_today(p_org_id, p_day, p_events_per_day, p_accepted);
  if fanout_version <> p_fanout_version then
    raise exception 'the organization''s fan-out configuration changed' using errcode = 'HL412';
  end if;
  if events_today + p_accepted > p_events_per_day then
    raise exception 'the batch would pass the daily event quota' using errcode = 'HL429';
  end if;

  -- As sql/082's, except that the deliveries come from event.received entries only (this version's callers write
  -- no delivery.scheduled here) and are also returned, in the entries' order, for their jobs.
  with entry as materialized (
    select x.ord, (x.item->>'s')::int + 1 as s, x.item->>'type' as type, x.item->'data' as data,
           coalesce(x.item->'meta', '{}'::jsonb) as meta
    from jsonb_array_elements(p_entries) with ordinality as x(item, ord)
  ), streams as (
    insert into hookledger.ledger_streams (org_id, stream, version)
    select p_org_id, s.stream, s.n from unnest(p_streams, p_counts) as s(stream, n) order by s.stream
    returning 1
  ), ledger as (
    insert into hookledger.ledger (org_id, stream, version, type, data, meta)
    select p_org_id, p_streams[e.s], (row_number() over (partition by e.s order by e.ord))::int, e.type, e.data, e.meta
    from entry e
    order by e.ord
  ), received as (
    select e.ord, r.* from entry e
    cross join lateral jsonb_to_record(e.data) as r(
      event_id text, app_id uuid, event_type text, content_type text, payload_encoding text, payload text,
      payload_sha256 text, request_fingerprint text, labels jsonb, occurred_at timestamptz, deliveries_scheduled integer,
      traceparent text, deliveries jsonb)
    where e.type = 'event.received'
  ), events as (
    insert into hookledger.events (org_id, event_id, app_id, event_type, content_type, payload_encoding, payload, payload_sha256,
      request_fingerprint, labels, occurred_at, received_at, deliveries_scheduled, traceparent)
    select p_org_id, r.event_id, r.app_id, r.event_type, r.content_type, r.payload_encoding, r.payload, r.payload_sha256,
      coalesce(r.request_fingerprint, r.payload_sha256), r.labels, r.occurred_at, at, r.deliveries_scheduled, r.traceparent
    from received r
    returning 1
  ), fanned as (
    select r.ord, d.o, (d.item->>'delivery_id')::uuid as delivery_id, (d.item->>'subscription_id')::uuid as subscription_id,
           r.event_id, r.app_id
    from received r cross join lateral jsonb_array_elements(coalesce(r.deliveries, '[]'::jsonb)) with ordinality as d(item, o)
  ), deliveries as (
    insert into hookledger.deliveries (org_id, delivery_id, event_id, subscription_id, app_id, status, reason, next_attempt_at, created_at, updated_at)
    select p_org_id, f.delivery_id, f.event_id, f.subscription_id, f.app_id, 'pending', 'fanout', at, at, at
    from fanned f
  ), counter as (
    insert into hookledger.usage_counters as u (org_id, day, shard, events) values (p_org_id, p_day, p_shard, p_accepted)
    on conflict (org_id, day, shard) do update set events = u.events + excluded.events
  )
  select (select count(*) from streams) + (select count(*) from events),
         (select array_agg(f.delivery_id order by f.ord, f.o) from fanned f)
  into written, delivery_ids;
  if cardinality(delivery_ids) > 0 then
    perform hookledger.insert_fanout_jobs(delivery_ids, p_job_size, p_job_priority, p_job_max_attempts);
  end if;
end
$$;
revoke all on function hookledger.ingest_batch(uuid, bigint, bigint, date, integer, integer, text[], integer[], jsonb, integer, integer, integer) from public;
grant execute on function hookledger.ingest_batch(uuid, bigint, bigint, date, integer, integer, text[], integer[], jsonb, integer, integer, integer) to hookledger_app;
comment on function hookledger.ingest_batch(uuid, bigint, bigint, date, integer, integer, text[], integer[], jsonb, integer, integer, integer) is
  'Writes a batch of one organization''s new events (ledger, streams, events, deliveries, the day''s counter) in one statement and queues their deliveries as jobs built here (sql/088); declines with HL412/HL429 or a unique violation when the batch must be decided on fresh reads.';
