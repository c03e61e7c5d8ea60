-- Attempt loads find each delivery by its key, and read version 0 for a delivery whose stream has no entry yet.
--
-- Version 0: since sql/070 a fanned-out delivery's stream begins with its first attempt, which is appended as a
-- new stream; the load used to join the stream's row, and so would have skipped such a delivery.
--
-- By key: with `delivery_id = any($ids)` the planner may read deliveries through deliveries_subscription_idx,
-- whose last column is delivery_id: PostgreSQL 18 can skip-scan an index over its leading columns, and on
-- statistics taken while the table was young it costed reading the organization's whole part of that index as
-- cheap (bench scenario 4: a Bitmap Index Scan over it, 1,985 buffers and 25 ms to find 164 deliveries; the
-- primary key needs ~2 buffers each). A lateral lookup per id with `limit 1` leaves the primary key as the only
-- sensible plan, as the events were already found (sql/068). Otherwise the results are those of sql/068.

create or replace function hookledger.deliveries_to_attempt(p_org_id uuid, p_delivery_ids uuid[])
returns table (
  delivery_id uuid, status text, attempts integer, subscription_id uuid, version integer,
  event_id text, app_id uuid, event_type text, content_type text, payload_encoding text, payload text,
  payload_sha256 text, request_fingerprint text, labels jsonb, occurred_at timestamptz, received_at timestamptz,
  deliveries_scheduled integer, traceparent text)
language plpgsql as $$
begin
  perform set_config('hookledger.org_id', p_org_id::text, true);
  return query
    with versions as materialized (
      select s.stream, s.version from hookledger.ledger_streams s
      where s.org_id = p_org_id and s.stream = any(array(select 'delivery:' || id::text from unnest(p_delivery_ids) as id))
    )
    select d.delivery_id, d.status, d.attempts, d.subscription_id, coalesce(v.version, 0),
      e.event_id, e.app_id, e.event_type, e.content_type, e.payload_encoding, e.payload, e.payload_sha256,
      e.request_fingerprint, e.labels, e.occurred_at, e.received_at, e.deliveries_scheduled, e.traceparent
    from (select distinct id from unnest(p_delivery_ids) as id) wanted
    cross join lateral (
      select * from hookledger.deliveries dd where dd.org_id = p_org_id and dd.delivery_id = wanted.id limit 1
    ) d
    left join versions v on v.stream = 'delivery:' || d.delivery_id::text
    cross join lateral (
      select * from hookledger.events ev where ev.org_id = d.org_id and ev.event_id = d.event_id limit 1
    ) e;
end
$$;

comment on function hookledger.deliveries_to_attempt(uuid, uuid[]) is
  'A batch of one organization''s deliveries with their events and delivery-stream versions (0: no entry yet), read under row-level security with the tenant set for this statement (a worker''s attempt load, no transaction).';

create or replace function hookledger.subscriptions_of_deliveries(p_org_id uuid, p_delivery_ids uuid[], p_now timestamptz)
returns table (subscription hookledger.subscriptions, secrets jsonb)
language plpgsql as $$
begin
  perform set_config('hookledger.org_id', p_org_id::text, true);
  return query
    select s, coalesce((
        select jsonb_agg(jsonb_build_object('key_id', k.key_id, 'ciphertext', k.ciphertext, 'expires_at', k.expires_at) order by k.created_at desc)
        from hookledger.subscription_secrets k
        where k.org_id = p_org_id and k.subscription_id = s.subscription_id and (k.expires_at is null or k.expires_at > p_now)
      ), '[]'::jsonb)
    from hookledger.subscriptions s
    where s.org_id = p_org_id
      and s.subscription_id = any(array(
        select distinct d.subscription_id
        from unnest(p_delivery_ids) as wanted(id)
        cross join lateral (
          select dd.subscription_id from hookledger.deliveries dd where dd.org_id = p_org_id and dd.delivery_id = wanted.id limit 1
        ) d
      ));
end
$$;
