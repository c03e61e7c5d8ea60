-- ingest_batch and receive_batch insert their new streams (and ingest_batch its events rows) with plain INSERTs,
-- not ON CONFLICT DO NOTHING: a taken stream or event id is now a unique violation (23505) instead of HL409.
--
-- Why: ON CONFLICT makes every row a speculative insertion (a check of the unique index before the heap insert, a
-- second index pass after it, and a token to resolve), paid by every event and receipt although a taken id is
-- rare: an event id sent again is answered from the events table before its batch is written (ingest.ts), so only
-- a race between two flushes, or one id twice in a batch, reaches here; receipt ids are random. Counted with
-- callgrind as in sql/080 (a single-user backend calling ingest_batch 90 times with batches the service made, a
-- no-op call's cost subtracted): 2.81 -> 2.69 M instructions per call of 4 events, 7.08 -> 6.63 M for 15.
--
-- What the callers do is unchanged: ingest.ts decides a batch declined with 23505 on these two tables on fresh reads
-- in a transaction, as it did with HL409 (the taken id is then answered as the duplicate or conflict it is); a
-- receipt batch that fails is written receipt by receipt, as before. raise_stream_taken, which only these two
-- called, goes.

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

create or replace function hookledger.receive_batch(
  p_org_id uuid, p_now timestamptz, p_nonce_routes text[], p_nonce_hashes text[], p_nonce_expiries timestamptz[], p_purge integer,
  p_streams text[], p_counts integer[], p_entries jsonb, p_publish_jobs jsonb)
returns void
language plpgsql as $$
declare
  fresh integer;
  written integer;
  -- The projections' `at`: the transaction's start at the millisecond, as entry_rows gives it.
  at timestamptz := date_trunc('milliseconds', now());
begin
  perform set_config('hookledger.org_id', p_org_id::text, true);
  with entry as materialized (
    select x.ord, (x.item->>'s')::int + 1 as s, x.item->>'type' as type, x.item->'data' as data,
           coalesce(x.item->'meta', '{}'::jsonb) as meta
    from jsonb_array_elements(p_entries) with ordinality as x(item, ord)
  ), claimed as (
    insert into hookledger.ingress_nonces as n (org_id, route_id, nonce_hash, expires_at)
    select p_org_id, r.route_id, r.nonce_hash, r.expires_at
    from unnest(p_nonce_routes, p_nonce_hashes, p_nonce_expiries) as r(route_id, nonce_hash, expires_at)
    on conflict (org_id, route_id, nonce_hash) do update set expires_at = excluded.expires_at
      where n.expires_at <= p_now
    returning 1
  ), streams as (
    -- In stream order, so two batches that share a stream wait for each other instead of deadlocking.
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
      receipt_id text, route_id text, content_type text, headers jsonb, body_base64 text, body_sha256 text,
      verification jsonb, message_id uuid, queue text)
    where e.type = 'ingress.received'
  ), receipts as (
    insert into hookledger.ingress_receipts (org_id, receipt_id, route_id, content_type, headers, body, body_sha256, verification, received_at)
    select p_org_id, r.receipt_id, r.route_id, r.content_type, r.headers, decode(r.body_base64, 'base64'), r.body_sha256, r.verification, at
    from received r
  ), messages as (
    insert into hookledger.pull_messages (org_id, message_id, queue, receipt_id, state, visible_at, enqueued_at, updated_at)
    select p_org_id, r.message_id, r.queue, r.receipt_id, 'ready', at, at, at
    from received r where r.message_id is not null
    union all
    -- pull.message_enqueued entries: from a process started before sql/073 (a rolling upgrade).
    select p_org_id, r.message_id, r.queue, r.receipt_id, 'ready', at, at, at
    from entry e
    cross join lateral jsonb_to_record(e.data) as r(message_id uuid, queue text, receipt_id text)
    where e.type = 'pull.message_enqueued'
  )
  -- Both read, so the nonces and then the streams are written first, as before (see ingest_batch above).
  select (select count(*) from claimed), (select count(*) from streams) into fresh, written;

  -- Either exception undoes everything above.
  if fresh < cardinality(p_nonce_hashes) then
    raise exception 'a nonce of the batch was seen before' using errcode = 'HL425';
  end if;
  -- The purge stays a statement of its own, planned for the call's values: those tell the planner that few nonces
  -- have expired, so it reads them through ingress_nonces_expiry_idx. Inside the statement above, planned once for
  -- any values on statistics taken while the table was small, it read the whole table on every call (a full bench
  -- run: 3,546 sequential scans of ~9,500 rows in 10 s, receive_batch 2.98 ms and 647 buffers per call instead of
  -- ~1.9 ms and ~345; the nonces a route keeps grow with its traffic times the replay window).
  if cardinality(p_nonce_hashes) > 0 then
    delete from hookledger.ingress_nonces
    where ctid in (
      select ctid from hookledger.ingress_nonces
      where org_id = p_org_id and route_id = any(p_nonce_routes) and expires_at <= p_now
      limit p_purge for update skip locked);
  end if;
  if jsonb_array_length(p_publish_jobs) > 0 then
    perform hookledger.insert_publish_jobs(p_publish_jobs);
  end if;
end
$$;

drop function hookledger.raise_stream_taken(uuid, text[], text[]);
