-- append_entries, set-based: one statement per kind of expectation for all streams of the call, instead of a
-- statement per stream in a loop. A batch of ingested events appends two new streams per event (event and
-- delivery), a batch of recorded attempts one existing stream per delivery: measured at 16 streams per call, the
-- loop cost 1.9 ms per call (0.12 ms per stream) of Postgres CPU on the 2-core box.
-- Semantics are unchanged: expected -1 = any version (stream created if missing), 0 = the stream must not exist yet,
-- n > 0 = the stream must be exactly at version n; a mismatch raises SQLSTATE HL409 naming the first stream (in
-- input order) that did not match, and the statement failing, nothing is written. Rows are locked in stream
-- order, so two calls over overlapping streams wait for each other instead of deadlocking.
create or replace function hookledger.append_entries(
  p_streams text[], p_expected integer[], p_counts integer[], p_entries jsonb)
returns table (entry_position bigint, entry_org_id uuid, entry_stream text, entry_version integer, entry_recorded_at timestamptz)
language plpgsql as $$
declare
  p_org_id uuid := hookledger.current_org_id();
  bases integer[];
  exact_streams text[];
  failed integer;
  actual integer;
begin
  if p_org_id is null then
    raise exception 'append_entries: no tenant set for this transaction' using errcode = '42501';
  end if;

  -- Existing streams are found through `stream = any(array)`, an index condition: joined to the input set, the
  -- planner chose a sequential scan of ledger_streams (5.9 ms per call at 9k streams in the steady-state bench).
  exact_streams := array(select p_streams[i] from generate_subscripts(p_streams, 1) as i where p_expected[i] > 0);
  with want as (
    select i, p_streams[i] as stream, p_expected[i] as expected, p_counts[i] as n from generate_subscripts(p_streams, 1) as i
  ), locked as (
    select s.stream from hookledger.ledger_streams s
    where s.org_id = p_org_id and s.stream = any(exact_streams)
    order by s.stream
    for update of s
  ), created as (
    insert into hookledger.ledger_streams (org_id, stream, version)
    select p_org_id, w.stream, w.n from want w where w.expected = 0 order by w.stream
    on conflict (org_id, stream) do nothing
    returning stream, 0 as base
  ), moved as (
    update hookledger.ledger_streams s set version = s.version + w.n, updated_at = now()
    from want w
    where w.expected > 0 and s.org_id = p_org_id and s.stream = any(exact_streams) and s.stream = w.stream and s.version = w.expected
      and s.stream in (select stream from locked)
    returning s.stream, w.expected as base
  ), any_version as (
    insert into hookledger.ledger_streams as s (org_id, stream, version)
    select p_org_id, w.stream, w.n from want w where w.expected = -1 order by w.stream
    on conflict (org_id, stream) do update set version = s.version + excluded.version, updated_at = now()
    returning s.stream, s.version as version
  )
  select array_agg(coalesce(c.base, m.base, a.version - w.n) order by w.i),
         min(w.i) filter (where c.base is null and m.base is null and a.version is null)
  into bases, failed
  from want w
  left join created c on c.stream = w.stream
  left join moved m on m.stream = w.stream
  left join any_version a on a.stream = w.stream;

  if failed is not null then
    select s.version into actual from hookledger.ledger_streams s where s.org_id = p_org_id and s.stream = p_streams[failed];
    if p_expected[failed] = 0 then
      raise exception 'stream % expected to be new but is at version %', p_streams[failed], actual
        using errcode = 'HL409', detail = json_build_object('stream', p_streams[failed], 'expected', 0, 'actual', actual)::text;
    end if;
    raise exception 'stream % expected at version % but is at version %', p_streams[failed], p_expected[failed], coalesce(actual, 0)
      using errcode = 'HL409',
            detail = json_build_object('stream', p_streams[failed], 'expected', p_expected[failed], 'actual', coalesce(actual, 0))::text;
  end if;

  return query
  insert into hookledger.ledger as l (org_id, stream, version, type, data, meta)
  select p_org_id,
         p_streams[(e.item->>'s')::int + 1],
         bases[(e.item->>'s')::int + 1] + (row_number() over (partition by e.item->>'s' order by e.ord))::int,
         e.item->>'type',
         e.item->'data',
         coalesce(e.item->'meta', '{}'::jsonb)
  from jsonb_array_elements(p_entries) with ordinality as e(item, ord)
  order by e.ord
  returning l.position, l.org_id, l.stream, l.version, l.recorded_at;
end
$$;
