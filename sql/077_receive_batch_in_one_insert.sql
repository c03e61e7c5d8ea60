-- receive_batch writes a batch of receipts with one INSERT statement (data-modifying CTEs), as sql/076 does for
-- ingest_batch.
--
-- Why: the same as there. The sql/073 function ran ~15 statements per call (the nonce claim and purge,
-- append_entries' stream statement and ledger insert, entry_rows, each projection through its own SQL function, the
-- publish jobs), and its fixed cost per call, not the receipts, kept the ingress connection busy (bench scenario 9:
-- ~1.9 ms per call of ~7.6 receipts, 80% of the time).
--
-- What is written is unchanged: the nonces (every one new or expired, else HL425 and nothing written; then, by a
-- second statement, expired nonces of the batch's routes purged, up to p_purge), the receipt streams (new: HL409
-- names the first taken one), the ledger entries in input order, the ingress_receipts and pull_messages rows as
-- project_ingress_receipts, project_pull_messages_received and project_pull_messages_enqueued write them (those
-- functions stay for rebuilds and the transactional path; test/inbound/pull.test.ts proves the rows equal) and the
-- publish jobs (insert_publish_jobs checks them). The tenant is set first, so every statement runs under row-level
-- security.
create or replace function hookledger.receive_batch(
  p_org_id uuid, p_now timestamptz, p_nonce_routes text[], p_nonce_hashes text[], p_nonce_expiries timestamptz[], p_purge integer,
  p_streams text[], p_counts integer[], p_entries jsonb, p_publish_jobs jsonb)
returns void
language plpgsql as $$
declare
  fresh integer;
  created text[];
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
  select (select count(*) from claimed), (select coalesce(array_agg(stream), '{}') from streams) into fresh, created;

  -- Either exception undoes everything above.
  if fresh < cardinality(p_nonce_hashes) then
    raise exception 'a nonce of the batch was seen before' using errcode = 'HL425';
  end if;
  if cardinality(created) < cardinality(p_streams) then
    perform hookledger.raise_stream_taken(p_org_id, p_streams, created);
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
comment on function hookledger.receive_batch(uuid, timestamptz, text[], text[], timestamptz[], integer, text[], integer[], jsonb, jsonb) is
  'Records a batch of verified webhook receipts (nonces, entries, projections, publish jobs) in one call, its rows by one INSERT; see sql/033 and sql/077.';
