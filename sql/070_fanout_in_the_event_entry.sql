-- An ingested event's fan-out is recorded in its own entry.
--
-- Why: an event matching F subscriptions appended 1 + F ledger entries (event.received, then a delivery.scheduled
-- on a new stream per delivery) and 1 + F stream rows: per delivery a ledger row with five or six index entries and
-- a stream row, beside the delivery's own row. At F = 100 that was two thirds of the WAL of an ingest batch and
-- the database was the limit (bench scenario 2: 1.34 cores of Postgres). The fan-out is decided once, with the
-- event, in the same transaction: `event.received` now names the deliveries it scheduled (data.deliveries: each
-- delivery_id and subscription_id), the deliveries projection writes their rows from it, and a delivery's stream
-- begins with the first entry that concerns it alone (its first attempt, a cancellation or a retry request),
-- appended as a new stream (expected version 0), which keeps one recorded outcome per attempt; the attempt load
-- reads version 0 for a delivery whose stream has no entry yet (sql/072).
-- `delivery.scheduled` stays for deliveries scheduled on their own (replay, the subscription test ping) and for
-- entries recorded before this migration; both project into the same rows.

-- Rows: event.received entry rows (data plus org_id and `at`), as hookledger.entry_rows returns them.
create function hookledger.project_deliveries_fanned_out(p_rows jsonb) returns void
language sql as $$
  insert into hookledger.deliveries (org_id, delivery_id, event_id, subscription_id, app_id, status, reason, next_attempt_at, created_at, updated_at)
  select r.org_id, (d->>'delivery_id')::uuid, r.event_id, (d->>'subscription_id')::uuid, r.app_id, 'pending', 'fanout', r.at, r.at, r.at
  from jsonb_to_recordset(p_rows) as r(org_id uuid, event_id text, app_id uuid, deliveries jsonb, at timestamptz)
  cross join lateral jsonb_array_elements(coalesce(r.deliveries, '[]'::jsonb)) as d
$$;
revoke all on function hookledger.project_deliveries_fanned_out(jsonb) from public;
grant execute on function hookledger.project_deliveries_fanned_out(jsonb) to hookledger_app;

-- As in sql/031, with the deliveries projected from the event entries; the event rows are built once for both
-- projections. A batch from a process that started before this migration still carries delivery.scheduled
-- entries (a rolling upgrade): those are projected as before.
create or replace function hookledger.ingest_batch(
  p_org_id uuid, p_fanout_version bigint, p_events_per_day bigint, p_day date, p_shard integer, p_accepted integer,
  p_streams text[], p_counts integer[], p_entries jsonb, p_jobs jsonb)
returns void
language plpgsql as $$
declare
  received jsonb;
begin
  perform set_config('hookledger.org_id', p_org_id::text, true);
  if coalesce((select f.version from hookledger.fanout_versions f where f.org_id = p_org_id), 0) <> p_fanout_version then
    raise exception 'the organization''s fan-out configuration changed' using errcode = 'HL412';
  end if;
  if coalesce((select sum(u.events) from hookledger.usage_counters u where u.org_id = p_org_id and u.day = p_day), 0)
     + p_accepted > p_events_per_day then
    raise exception 'the batch would pass the daily event quota' using errcode = 'HL429';
  end if;
  perform from hookledger.append_entries(p_streams, array_fill(0, array[cardinality(p_streams)]), p_counts, p_entries);
  received := hookledger.entry_rows(p_entries, p_org_id, 'event.received');
  perform hookledger.project_events_received(received);
  perform hookledger.project_deliveries_fanned_out(received);
  if jsonb_path_exists(p_entries, '$[*] ? (@.type == "delivery.scheduled")') then
    perform hookledger.project_deliveries_scheduled(hookledger.entry_rows(p_entries, p_org_id, 'delivery.scheduled'));
  end if;
  if jsonb_array_length(p_jobs) > 0 then
    perform hookledger.insert_deliver_jobs(p_jobs);
  end if;
  insert into hookledger.usage_counters (org_id, day, shard, events) values (p_org_id, p_day, p_shard, p_accepted)
  on conflict (org_id, day, shard) do update set events = hookledger.usage_counters.events + excluded.events;
end
$$;
