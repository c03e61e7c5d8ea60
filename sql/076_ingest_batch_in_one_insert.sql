-- ingest_batch writes a batch with one INSERT statement (data-modifying CTEs) instead of ~20 statements.
--
-- Why: a flush's cost in Postgres was mostly per statement, not per event. Timed alone (pgbench, one connection
-- calling it in a loop with batches shaped like the service's, fresh tables, synchronous_commit off so only CPU
-- counts, the cost of building the arguments subtracted), the sql/070 function took 0.68 ms for one event, 0.99 ms
-- for six and 1.68 ms for sixteen: ~0.62 ms per call whatever its size, in ~20 statements (the version and quota
-- reads, append_entries' stream statement and its ledger insert, the entry JSON turned into rows by entry_rows,
-- each projection's insert through its own SQL function, the jobs, the counter), each with its executor set-up
-- (relations and indexes opened, constraint, default and RLS expressions built) and SPI call. As one statement the
-- same batches take 0.57, 0.79 and 1.33 ms. In bench scenario 1 (16 clients, quick runs, this migration left out
-- or not, three rounds, every round won) 2,457, 2,751, 2,088 -> 2,835, 3,009, 2,581 events/s.
--
-- What is written is unchanged: the event streams (new, expected version 0: HL409 names the first taken one, as
-- append_entries did), the ledger entries in input order, the events and deliveries rows as the projections'
-- functions (project_events_received, project_deliveries_fanned_out, project_deliveries_scheduled) write them,
-- the deliver jobs (insert_deliver_jobs, which checks them) and the day's counter. The projection functions stay:
-- rebuilds and the transactional path use them, and test/ledger/rebuild.test.ts proves the rows equal. The tenant
-- is set first, so every insert runs under row-level security's checks for this organization.

-- HL409 for a batch whose new streams were not all created (`created`: those that were): names the first stream,
-- in input order, that was not, one that existed or a second mention of a stream in the batch, with its version.
-- Shared by ingest_batch and receive_batch (sql/077), whose callers then decide the batch another way.
create function hookledger.raise_stream_taken(p_org_id uuid, p_streams text[], created text[]) returns void
language plpgsql as $$
declare
  taken text;
  actual integer;
begin
  select s.stream into taken from unnest(p_streams) with ordinality as s(stream, i)
  where s.stream <> all(created)
     or exists (select from unnest(p_streams) with ordinality as o(stream, j) where o.stream = s.stream and o.j < s.i)
  order by s.i limit 1;
  select l.version into actual from hookledger.ledger_streams l where l.org_id = p_org_id and l.stream = taken;
  raise exception 'stream % expected to be new but is at version %', taken, actual
    using errcode = 'HL409', detail = json_build_object('stream', taken, 'expected', 0, 'actual', actual)::text;
end
$$;
revoke all on function hookledger.raise_stream_taken(uuid, text[], text[]) from public;
grant execute on function hookledger.raise_stream_taken(uuid, text[], text[]) to hookledger_app;

create or replace function hookledger.ingest_batch(
  p_org_id uuid, p_fanout_version bigint, p_events_per_day bigint, p_day date, p_shard integer, p_accepted integer,
  p_streams text[], p_counts integer[], p_entries jsonb, p_jobs jsonb)
returns void
language plpgsql as $$
declare
  fanout_version bigint;
  events_today bigint;
  created text[];
  events_expected integer;
  events_written integer;
  -- The projections' `at`: the transaction's start at the millisecond, as entry_rows gives it.
  at timestamptz := date_trunc('milliseconds', now());
begin
  perform set_config('hookledger.org_id', p_org_id::text, true);
  select coalesce((select f.version from hookledger.fanout_versions f where f.org_id = p_org_id), 0),
         coalesce((select sum(u.events) from hookledger.usage_counters u where u.org_id = p_org_id and u.day = p_day), 0)
  into fanout_version, events_today;
  if fanout_version <> p_fanout_version then
    raise exception 'the organization''s fan-out configuration changed' using errcode = 'HL412';
  end if;
  if events_today + p_accepted > p_events_per_day then
    raise exception 'the batch would pass the daily event quota' using errcode = 'HL429';
  end if;

  with entry as materialized (
    select x.ord, (x.item->>'s')::int + 1 as s, x.item->>'type' as type, x.item->'data' as data,
           coalesce(x.item->'meta', '{}'::jsonb) as meta
    from jsonb_array_elements(p_entries) with ordinality as x(item, ord)
  ), streams as (
    -- In stream order, so two batches that share a stream wait for each other instead of deadlocking.
    insert into hookledger.ledger_streams (org_id, stream, version)
    select p_org_id, s.stream, s.n from unnest(p_streams, p_counts) as s(stream, n) order by s.stream
    on conflict (org_id, stream) do nothing
    returning stream
  ), ledger as (
    insert into hookledger.ledger (org_id, stream, version, type, data, meta)
    select p_org_id, p_streams[e.s], (row_number() over (partition by e.s order by e.ord))::int, e.type, e.data, e.meta
    from entry e
    order by e.ord
  ), received as (
    select r.* from entry e
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
    -- A taken event id must end in HL409 below (the caller then decides the batch on fresh reads), not in a
    -- unique violation here.
    on conflict (org_id, event_id) do nothing
    returning 1
  ), deliveries as (
    insert into hookledger.deliveries (org_id, delivery_id, event_id, subscription_id, app_id, status, reason, next_attempt_at, created_at, updated_at)
    select p_org_id, (d->>'delivery_id')::uuid, r.event_id, (d->>'subscription_id')::uuid, r.app_id, 'pending', 'fanout', at, at, at
    from received r cross join lateral jsonb_array_elements(coalesce(r.deliveries, '[]'::jsonb)) as d
    union all
    -- delivery.scheduled entries: from a process started before sql/070 (a rolling upgrade).
    select p_org_id, r.delivery_id, r.event_id, r.subscription_id, r.app_id, 'pending', r.reason, at, at, at
    from entry e
    cross join lateral jsonb_to_record(e.data) as r(delivery_id uuid, event_id text, subscription_id uuid, app_id uuid, reason text)
    where e.type = 'delivery.scheduled'
  ), counter as (
    insert into hookledger.usage_counters as u (org_id, day, shard, events) values (p_org_id, p_day, p_shard, p_accepted)
    on conflict (org_id, day, shard) do update set events = u.events + excluded.events
  )
  select (select coalesce(array_agg(stream), '{}') from streams), (select count(*) from received), (select count(*) from events)
  into created, events_expected, events_written;

  if cardinality(created) < cardinality(p_streams) then
    -- The exception undoes everything above.
    perform hookledger.raise_stream_taken(p_org_id, p_streams, created);
  end if;
  if events_written < events_expected then
    -- A new stream for an event whose row exists: the projection and the ledger disagree; nothing is written.
    raise exception 'an event of the batch is already recorded' using errcode = 'HL409';
  end if;
  if jsonb_array_length(p_jobs) > 0 then
    perform hookledger.insert_deliver_jobs(p_jobs);
  end if;
end
$$;
comment on function hookledger.ingest_batch(uuid, bigint, bigint, date, integer, integer, text[], integer[], jsonb, jsonb) is
  'Writes a batch of new events (ledger entries, events and deliveries rows, deliver jobs, usage counter) in one call, its rows by one INSERT; see sql/031 and sql/076.';
