-- record_successes takes an endpoint's row before anything else it locks, and never waits for one afterwards, so a
-- subscription command and the worker's record of the same endpoint cannot deadlock.
--
-- Why: a command (disable, delete, test, PATCH, replay...) locks the subscription row first and then its delivery
-- streams and rows (disable cancels the open deliveries); sql/078's function locked the delivery streams and rows
-- first and then updated the subscription's health row, so each could wait for the other. Postgres broke the cycle
-- after deadlock_timeout (1 s): the API answered 503, the worker's job failed and sent its deliveries again. A
-- hostile-input sweep met it about once in 15 s of a tight loop of commands beside deliveries.
--
-- Now, in one order: first the rows of the group's endpoints whose health this record writes (a failure count to
-- clear, or a last success moving to a later second: at most once a second for a healthy endpoint) are locked,
-- waiting for a command that holds one while nothing else is held; the health update then touches only those rows.
-- An endpoint whose row needed no write at that moment is not written by this call (its next record writes it).
-- Tried and dropped: share-locking the group's other endpoint rows at the end without waiting and handing the group
-- to the transactional path when one was held; with four worker processes recording the same endpoints the hand-overs
-- fed each other (the transactional path holds the rows for its whole transaction) and throughput halved.

create or replace function hookledger.record_successes(p_org_id uuid, p_streams text[], p_expected integer[], p_entries jsonb)
returns void
language plpgsql as $$
declare
  -- The projections' `at`: the transaction's start at the millisecond, as entry_rows gives it.
  at timestamptz := date_trunc('milliseconds', now());
  appended_streams text[];
  failed integer;
  actual integer;
  endpoints uuid[];
  held uuid[];
begin
  perform set_config('hookledger.org_id', p_org_id::text, true);
  -- Entry i (from 1) is the one entry of stream i.
  if jsonb_array_length(p_entries) <> coalesce(cardinality(p_streams), 0) or cardinality(p_expected) <> cardinality(p_streams)
     or exists (select from unnest(p_expected) as v where v < 0)
     or exists (
       select from jsonb_array_elements(p_entries) with ordinality as x(item, ord)
       where x.item->>'type' is distinct from 'delivery.attempted' or x.item->'data'->>'outcome' is distinct from 'succeeded'
          or (x.item->>'s')::int is distinct from (x.ord - 1)::int)
  then
    raise exception 'record_successes: only delivery.attempted entries of successful attempts, one per stream at a known version'
      using errcode = '22023';
  end if;

  -- The group's endpoints, and first of all the rows of those whose health this record writes, in order.
  select coalesce(array_agg(distinct (x.item->'data'->>'subscription_id')::uuid), '{}') into endpoints
  from jsonb_array_elements(p_entries) as x(item);
  select coalesce(array_agg(l.subscription_id), '{}') into held from (
    select s.subscription_id from hookledger.subscriptions s
    where s.org_id = p_org_id and s.subscription_id = any(endpoints)
      and (s.consecutive_failures <> 0 or s.failing_since is not null or s.last_success_at is null
           or s.last_success_at < date_trunc('second', at))
    order by s.subscription_id
    for no key update
  ) as l;

  with want as (
    select w.i, w.stream, w.expected from unnest(p_streams, p_expected) with ordinality as w(stream, expected, i)
  ), exact as (
    -- Existing streams are found through `stream = any(array)`, an index condition (see sql/019).
    select coalesce(array_agg(w.stream), '{}') as streams from want w where w.expected > 0
  ), locked as materialized (
    select s.stream from hookledger.ledger_streams s
    where s.org_id = p_org_id and s.stream = any((select x.streams from exact x)::text[])
    order by s.stream
    for update of s
  ), moved as (
    update hookledger.ledger_streams s set version = s.version + 1, updated_at = now()
    from want w
    where w.expected > 0 and s.org_id = p_org_id and s.stream = any((select x.streams from exact x)::text[]) and s.stream = w.stream
      and s.version = w.expected and s.stream in (select l.stream from locked l)
    returning s.stream
  ), created as (
    insert into hookledger.ledger_streams (org_id, stream, version)
    select p_org_id, w.stream, 1 from want w where w.expected = 0 order by w.stream
    on conflict (org_id, stream) do nothing
    returning stream
  ), appended as (
    select coalesce(array_agg(a.stream), '{}') as streams
    from (select m.stream from moved m union all select c.stream from created c) as a
  ), entry as (
    select x.ord, x.item->'data' as data, coalesce(x.item->'meta', '{}'::jsonb) as meta
    from jsonb_array_elements(p_entries) with ordinality as x(item, ord)
  ), ledger as (
    insert into hookledger.ledger (org_id, stream, version, type, data, meta)
    select p_org_id, p_streams[e.ord], p_expected[e.ord] + 1, 'delivery.attempted', e.data, e.meta
    from entry e
    order by e.ord
  ), attempted as (
    -- One call for the group: jsonb_to_record per entry costs its column set-up on every row.
    select r.* from jsonb_to_recordset(jsonb_path_query_array(p_entries, '$[*].data')) as r(
      attempt_id uuid, delivery_id uuid, event_id text, subscription_id uuid, attempt_number integer, outcome text,
      status_code integer, error_class text, error_message text, duration_ms integer, response_headers jsonb,
      response_excerpt text, next_attempt_at timestamptz)
  ), attempts as (
    insert into hookledger.delivery_attempts (org_id, attempt_id, delivery_id, event_id, subscription_id, attempt_number, outcome,
      status_code, error_class, error_message, duration_ms, response_headers, response_excerpt, attempted_at, next_attempt_at)
    select p_org_id, r.attempt_id, r.delivery_id, r.event_id, r.subscription_id, r.attempt_number, r.outcome, r.status_code,
      r.error_class, r.error_message, r.duration_ms, r.response_headers, r.response_excerpt, at, r.next_attempt_at
    from attempted r
    -- Only once every stream moved or began: an attempt another run recorded first then ends in HL409 below,
    -- not in a unique violation here (the caller drops that attempt on HL409 and records the rest).
    where cardinality((select x.streams from appended x)) = cardinality(p_streams)
  ), deliveries as (
    -- project_deliveries_attempted for a success.
    update hookledger.deliveries d set
      attempts = r.attempt_number, status = 'succeeded', next_attempt_at = r.next_attempt_at, last_attempt_at = at,
      last_status_code = r.status_code, last_error_class = r.error_class, completed_at = at, updated_at = at
    from attempted r
    -- The deliveries are found through `delivery_id = any(array)`, an index condition: joined to the attempts
    -- alone, the function's cached plan (made while the table was small) read every delivery of the
    -- organization into a hash (auto_explain in the steady-state bench: 1,090 rows for a group of 25).
    where d.org_id = p_org_id and d.delivery_id = any((select array_agg(a.delivery_id) from attempted a)::uuid[])
      and d.delivery_id = r.delivery_id
  ), health as (
    -- project_endpoint_health for a run of successes: a healthy endpoint's row is written only when its last
    -- success moves to a later second. Only rows locked above: this statement never waits for an endpoint's row.
    update hookledger.subscriptions s set
      consecutive_failures = 0, failing_since = null, last_success_at = date_trunc('second', at)
    where s.org_id = p_org_id and s.subscription_id = any(held)
      and (s.consecutive_failures <> 0 or s.failing_since is not null or s.last_success_at is null
           or s.last_success_at < date_trunc('second', at))
  )
  select x.streams into appended_streams from appended x;

  if cardinality(appended_streams) < cardinality(p_streams) then
    -- The exception undoes everything above. The first stream, in input order, that was not appended: one that
    -- moved on (or, expected new, exists), or a second mention of a stream in the group.
    select w.i into failed from unnest(p_streams) with ordinality as w(stream, i)
    where w.stream <> all(appended_streams)
       or exists (select from unnest(p_streams) with ordinality as o(stream, j) where o.stream = w.stream and o.j < w.i)
    order by w.i limit 1;
    select s.version into actual from hookledger.ledger_streams s where s.org_id = p_org_id and s.stream = p_streams[failed];
    if p_expected[failed] = 0 then
      raise exception 'stream % expected to be new but is at version %', p_streams[failed], actual
        using errcode = 'HL409', detail = json_build_object('stream', p_streams[failed], 'expected', 0, 'actual', actual)::text;
    end if;
    raise exception 'stream % expected at version % but is at version %', p_streams[failed], p_expected[failed], coalesce(actual, 0)
      using errcode = 'HL409',
            detail = json_build_object('stream', p_streams[failed], 'expected', p_expected[failed], 'actual', coalesce(actual, 0))::text;
  end if;
end
$$;
comment on function hookledger.record_successes(uuid, text[], integer[], jsonb) is
  'Records a group of successful delivery attempts (entries and their three projections) in one call, its rows by one INSERT, endpoint rows locked first; see sql/032, sql/078 and sql/085.';
