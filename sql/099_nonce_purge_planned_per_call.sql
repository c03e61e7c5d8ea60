-- receive_batch purges expired nonces with a plan made for each call's values again.
--
-- Why: sql/098 gave receive_batch `plan_cache_mode = force_generic_plan`, so that its statements are planned once
-- per session, and with it the purge of expired nonces, which sql/077 had kept a statement of its own precisely so
-- that it was planned for the call's values. Planned once for any values, on a route that keeps thousands of nonces
-- (one per request for its replay window, stored wherever purged ones left room), the purge was a sequential scan:
-- a full bench run after sql/098 read ingress_nonces 547 times in 10 s, ~30,000 rows each time (receive_batch 2.09 ms
-- and 443 buffers a call). Now the purge is an EXECUTE, planned on each call with its values (an index scan on
-- ingress_nonces_expiry_idx that reads the few expired nonces), and the function's other statements keep their
-- generic plans. test/db/hotPathPlans.test.ts reproduces the sequential scan before this migration.
--
-- As sql/081's, but for the purge; the SET clause is repeated, as `create or replace` drops it otherwise.

create or replace function hookledger.receive_batch(
  p_org_id uuid, p_now timestamptz, p_nonce_routes text[], p_nonce_hashes text[], p_nonce_expiries timestamptz[], p_purge integer,
  p_streams text[], p_counts integer[], p_entries jsonb, p_publish_jobs jsonb)
returns void
language plpgsql
set plan_cache_mode = force_generic_plan
as $$
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
  -- The purge is planned on each call for the call's values (EXECUTE): they tell the planner that few nonces have
  -- expired, so it reads them through ingress_nonces_expiry_idx. Under this function's generic plans (sql/098) it
  -- was planned once per session: as soon as the table's statistics counted more than a few thousand nonces in no
  -- order on disk, that plan was a sequential scan, since a third of any table is assumed to match `<= p_now` and a
  -- scan would meet `limit p_purge` of them early; it read every nonce of the table on every call instead.
  if cardinality(p_nonce_hashes) > 0 then
    execute 'delete from hookledger.ingress_nonces
      where ctid in (
        select ctid from hookledger.ingress_nonces
        where org_id = $1 and route_id = any($2) and expires_at <= $3
        limit $4 for update skip locked)'
      using p_org_id, p_nonce_routes, p_now, p_purge;
  end if;
  if jsonb_array_length(p_publish_jobs) > 0 then
    perform hookledger.insert_publish_jobs(p_publish_jobs);
  end if;
end
$$;

comment on function hookledger.receive_batch(uuid, timestamptz, text[], text[], timestamptz[], integer, text[], integer[], jsonb, jsonb) is
  'Writes a batch of one organization''s verified receipts (nonces, ledger, streams, receipts, pull messages, publish jobs) in one statement; declines with HL425 when a nonce was seen before; purges up to p_purge expired nonces of the batch''s routes with a plan made for the call (see sql/081, sql/099).';
