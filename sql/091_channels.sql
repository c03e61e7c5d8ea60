-- Channels (Svix's): an event may carry up to 10 channel names, and a subscription may list up to 10. A subscription
-- with channels receives only events that carry at least one of them; one without receives events whatever their
-- channels (its event types and labels still apply). The service matches in outbound/matching.ts and validates the
-- names (1-128 of [a-zA-Z0-9_.:-], no repeats); null is "no channels" on both tables.
--
-- Why no check constraint or index on events.channels: every ingested event would pay for them, and an event without
-- channels must cost what it did (a null stored). `GET /v1/events?channel=` filters with `= any(channels)` (text
-- equality, leakproof under RLS) while it walks the list index, as `?label=` does.
--
-- ingest_batch and project_events_received are replaced with the same signatures, reading `channels` from the
-- event.received entry: a process started before this migration calls them as before, with entries that carry no
-- channels (null stored), so the overloads of sql/082 and sql/088 stay callable during a rolling upgrade.
--
-- The fan-out memory (outbound/fanoutCache.ts) keeps subscriptions' channels at the organization's fan-out version:
-- a change to them must bump it as a change to event_types or labels does (sql/031).

alter table hookledger.events add column channels text[];
comment on column hookledger.events.channels is
  'The channels the producer gave the event (1-10 names), or null when none; a subscription with channels receives it only if one of them is here (sql/091).';

alter table hookledger.subscriptions add column channels text[]
  check (channels is null or cardinality(channels) between 1 and 10);
comment on column hookledger.subscriptions.channels is
  'The subscription''s channels (1-10 names): it receives only events carrying at least one of them; null = events whatever their channels (sql/091).';

drop trigger subscriptions_fanout_update on hookledger.subscriptions;
create trigger subscriptions_fanout_update after update on hookledger.subscriptions
  for each row when (old.enabled is distinct from new.enabled or old.deleted_at is distinct from new.deleted_at
                     or old.event_types is distinct from new.event_types or old.labels is distinct from new.labels
                     or old.channels is distinct from new.channels or old.app_id is distinct from new.app_id)
  execute function hookledger_private.bump_fanout_version();

-- As sql/054's, with the event's channels.
create or replace function hookledger.project_events_received(p_rows jsonb) returns void
language sql as $$
  insert into hookledger.events (org_id, event_id, app_id, event_type, content_type, payload_encoding, payload, payload_sha256,
    request_fingerprint, labels, channels, occurred_at, received_at, deliveries_scheduled, traceparent)
  select org_id, event_id, app_id, event_type, content_type, payload_encoding, payload, payload_sha256,
    coalesce(request_fingerprint, payload_sha256), labels, channels, occurred_at, at, deliveries_scheduled, traceparent
  from jsonb_to_recordset(p_rows) as r(
    org_id uuid, event_id text, app_id uuid, event_type text, content_type text, payload_encoding text, payload text,
    payload_sha256 text, request_fingerprint text, labels jsonb, channels text[], occurred_at timestamptz, at timestamptz,
    deliveries_scheduled integer, traceparent text)
$$;

-- As sql/088's, with the event's channels read from its entry.
create or replace function hookledger.ingest_batch(
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
      payload_sha256 text, request_fingerprint text, labels jsonb, channels text[], occurred_at timestamptz,
      deliveries_scheduled integer, traceparent text, deliveries jsonb)
    where e.type = 'event.received'
  ), events as (
    insert into hookledger.events (org_id, event_id, app_id, event_type, content_type, payload_encoding, payload, payload_sha256,
      request_fingerprint, labels, channels, occurred_at, received_at, deliveries_scheduled, traceparent)
    select p_org_id, r.event_id, r.app_id, r.event_type, r.content_type, r.payload_encoding, r.payload, r.payload_sha256,
      coalesce(r.request_fingerprint, r.payload_sha256), r.labels, r.channels, r.occurred_at, at, r.deliveries_scheduled, r.traceparent
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
comment on function hookledger.ingest_batch(uuid, bigint, bigint, date, integer, integer, text[], integer[], jsonb, integer, integer, integer) is
  'Writes a batch of one organization''s new events (ledger, streams, events with their channels, deliveries, the day''s counter) in one statement and queues their deliveries as jobs built here (sql/088, sql/091); declines with HL412/HL429 or a unique violation when the batch must be decided on fresh reads.';
