-- Loading a batch of due deliveries without a transaction (the worker's twin of sql/060).
--
-- Why: each load opened a read transaction (begin, set tenant, deliveries with their events and stream versions,
-- subscriptions, then signing secrets, commit): five round trips, and the session sat `idle in transaction`
-- whenever the worker, busy sending and signing, was slow to come back to it — 0.5 sessions on average with one
-- worker process draining a backlog, 1.2 with two (bench scenario 7, 2026-12-03). These functions set the tenant
-- for their own statement and read under row-level security as the caller, so the reads are two autocommit
-- statements sent together (deliveries with their events; subscriptions with their secrets): one round trip, no
-- transaction left open. A delivery's stream version is still read
-- in the same statement as its attempt count (see outbound/attemptLoad.ts for why).

create function hookledger.deliveries_to_attempt(p_org_id uuid, p_delivery_ids uuid[])
returns table (
  delivery_id uuid, status text, attempts integer, subscription_id uuid, version integer,
  event_id text, app_id uuid, event_type text, content_type text, payload_encoding text, payload text,
  payload_sha256 text, request_fingerprint text, labels jsonb, occurred_at timestamptz, received_at timestamptz,
  deliveries_scheduled integer, traceparent text)
language plpgsql as $$
begin
  perform set_config('hookledger.org_id', p_org_id::text, true);
  -- Streams by `stream = any($names)`, events by key (lateral, `limit 1`): the plans attemptLoad.ts explains.
  return query
    with versions as materialized (
      select s.stream, s.version from hookledger.ledger_streams s
      where s.org_id = p_org_id and s.stream = any(array(select 'delivery:' || id::text from unnest(p_delivery_ids) as id))
    )
    select d.delivery_id, d.status, d.attempts, d.subscription_id, v.version,
      e.event_id, e.app_id, e.event_type, e.content_type, e.payload_encoding, e.payload, e.payload_sha256,
      e.request_fingerprint, e.labels, e.occurred_at, e.received_at, e.deliveries_scheduled, e.traceparent
    from hookledger.deliveries d
    join versions v on v.stream = 'delivery:' || d.delivery_id::text
    cross join lateral (
      select * from hookledger.events ev where ev.org_id = d.org_id and ev.event_id = d.event_id limit 1
    ) e
    where d.org_id = p_org_id and d.delivery_id = any(p_delivery_ids);
end
$$;
comment on function hookledger.deliveries_to_attempt(uuid, uuid[]) is
  'A batch of one organization''s deliveries with their events and delivery-stream versions, read under row-level security with the tenant set for this statement (a worker''s attempt load, no transaction).';

create function hookledger.subscriptions_of_deliveries(p_org_id uuid, p_delivery_ids uuid[], p_now timestamptz)
returns table (subscription hookledger.subscriptions, secrets jsonb)
language plpgsql as $$
begin
  perform set_config('hookledger.org_id', p_org_id::text, true);
  -- The deliveries are looked up once for the subscriptions and their secrets together: read apart, each lookup
  -- cost ~300 buffers per load of ~100 deliveries (bench scenario 4).
  return query
    select s, coalesce((
        select jsonb_agg(jsonb_build_object('key_id', k.key_id, 'ciphertext', k.ciphertext, 'expires_at', k.expires_at) order by k.created_at desc)
        from hookledger.subscription_secrets k
        where k.org_id = p_org_id and k.subscription_id = s.subscription_id and (k.expires_at is null or k.expires_at > p_now)
      ), '[]'::jsonb)
    from hookledger.subscriptions s
    where s.org_id = p_org_id
      and s.subscription_id = any(array(
        select distinct d.subscription_id from hookledger.deliveries d where d.org_id = p_org_id and d.delivery_id = any(p_delivery_ids)
      ));
end
$$;
comment on function hookledger.subscriptions_of_deliveries(uuid, uuid[], timestamptz) is
  'The subscriptions (deleted ones included) a batch of one organization''s deliveries go to, each with its signing secrets that have not expired at the given time (still encrypted, newest first), read under row-level security with the tenant set for this statement.';

revoke all on function hookledger.deliveries_to_attempt(uuid, uuid[]), hookledger.subscriptions_of_deliveries(uuid, uuid[], timestamptz) from public;
grant execute on function hookledger.deliveries_to_attempt(uuid, uuid[]), hookledger.subscriptions_of_deliveries(uuid, uuid[], timestamptz) to hookledger_app;
