-- The daily event quota holds under concurrent flushes: near its end, a flush decides on it under a lock of the
-- organization's day, held until its counter is committed.
--
-- Why: ingest_batch and the transactional path (ingest.ts) read the day's sharded counters and refused a batch only
-- if it alone would pass the quota. Two flushes of one organization at once (a second lane, another API process)
-- each saw the room for themselves: a hostile-input sweep sent 20-30 events at once to organizations with a few
-- events of quota left and got 46 of 45, 66 of 65, 30 of 20 and 50 of 40 accepted.
--
-- events_today reads the counters as before and, when the batch would leave less than 4,096 events of room (16
-- flushes of the 256 events a flush holds at most: the flushes that can run at once without the lock cannot pass
-- the quota together), takes a transaction-level advisory lock of (organization, day) and reads them again: a
-- statement after the lock sees every flush that held it before, committed. Far from the quota nothing is locked,
-- so flushes still run side by side. The lock is taken before the flush writes anything, so it cannot take part in
-- a deadlock with the rows a flush locks.

create function hookledger.events_today(p_org_id uuid, p_day date, p_limit bigint, p_batch integer)
returns bigint
language plpgsql as $$
declare
  counted bigint;
begin
  select coalesce(sum(u.events), 0) into counted from hookledger.usage_counters u where u.org_id = p_org_id and u.day = p_day;
  if counted + p_batch > p_limit - 4096 then
    perform pg_advisory_xact_lock(hashtextextended('hookledger.events_per_day:' || p_org_id::text || ':' || p_day::text, 0));
    select coalesce(sum(u.events), 0) into counted from hookledger.usage_counters u where u.org_id = p_org_id and u.day = p_day;
  end if;
  return counted;
end
$$;
revoke all on function hookledger.events_today(uuid, date, bigint, integer) from public;
grant execute on function hookledger.events_today(uuid, date, bigint, integer) to hookledger_app;
comment on function hookledger.events_today(uuid, date, bigint, integer) is
  'Events the organization accepted on the day; near the limit (a batch of p_batch leaving < 4,096 of room) read under the (organization, day) advisory lock, held to commit: see sql/082.';

create or replace function hookledger.ingest_batch(
  p_org_id uuid, p_fanout_version bigint, p_events_per_day bigint, p_day date, p_shard integer, p_accepted integer,
  p_streams text[], p_counts integer[], p_entries jsonb, p_jobs jsonb)
returns void
language plpgsql as $$
declare
  fanout_version bigint;
  events_today bigint;
  -- Read so that the streams and events are written first, as before: the statement runs the CTEs it reads as it
  -- reads them, and the others after it, last one first (the counter, then the deliveries ...). Two flushes then
  -- meet at their first shared stream, in stream order, before either takes the day's counter.
  written integer;
  -- The projections' `at`: the transaction's start at the millisecond, as entry_rows gives it.
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

  with entry as materialized (
    select x.ord, (x.item->>'s')::int + 1 as s, x.item->>'type' as type, x.item->'data' as data,
           coalesce(x.item->'meta', '{}'::jsonb) as meta
    from jsonb_array_elements(p_entries) with ordinality as x(item, ord)
  ), streams as (
    -- In stream order, so two batches that share a stream wait for each other instead of deadlocking. A taken
    -- stream (an event id already recorded, or twice in the batch) is a unique violation: the caller then decides
    -- the batch on fresh reads.
    insert into hookledger.ledger_streams (org_id, stream, version)
    select p_org_id, s.stream, s.n from unnest(p_streams, p_counts) as s(stream, n) order by s.stream
    returning 1
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
  select (select count(*) from streams) + (select count(*) from events) into written;
  if jsonb_array_length(p_jobs) > 0 then
    perform hookledger.insert_deliver_jobs(p_jobs);
  end if;
end
$$;
