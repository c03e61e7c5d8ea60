-- Deliver jobs carry a priority: the jobs of wide work (a flush, replay or promotion that schedules hundreds or
-- thousands of deliveries at once) run after narrow work that is due at the same time.
--
-- Why: graphile-worker takes due jobs in (priority, run_at, id) order, and every deliver job had priority 0, so one
-- organization's burst — 100 events to an application of 1,000 subscriptions, 100,000 deliveries in 3,125 jobs —
-- sat in front of every other organization's fresh deliveries, which waited ~30 s behind it (a hostile-input sweep).
-- The service sets the priority from the work's width (outbound/jobs.ts, `widthPriority`): 0 below 100 deliveries,
-- 1 below 1,000, 2 beyond. A tenant never chooses it. Narrow work of every organization goes first; wide work still
-- runs as fast as the workers are free.
--
-- insert_deliver_jobs (sql/031) takes `priority` from each job (0 when absent: jobs built by a process started
-- before this migration, during a rolling upgrade) and refuses one outside 0-2. enqueue_jobs passes graphile-worker's
-- job_spec through, which has its own priority field already.

create or replace function hookledger.insert_deliver_jobs(p_jobs jsonb) returns integer
language plpgsql security definer set search_path = pg_catalog, pg_temp
as $$
declare
  added integer;
begin
  if hookledger.current_org_id() is null then
    raise exception 'insert_deliver_jobs: no tenant set for this transaction' using errcode = '42501';
  end if;
  if exists (
    select from jsonb_array_elements(p_jobs) j
    where j->>'identifier' is distinct from 'deliver' or j ? 'job_key' or j ? 'queue_name' or jsonb_typeof(j->'payload') is distinct from 'array'
       or (j ? 'priority' and (jsonb_typeof(j->'priority') is distinct from 'number' or (j->>'priority')::numeric not in (0, 1, 2)))
  ) then
    raise exception 'insert_deliver_jobs: only unkeyed, unqueued deliver jobs with a batch payload and a priority of 0, 1 or 2' using errcode = '42501';
  end if;
  if exists (
    select from jsonb_array_elements(p_jobs) j cross join lateral jsonb_array_elements(j->'payload') item
    where item->>'org_id' is distinct from hookledger.current_org_id()::text
  ) then
    raise exception 'insert_deliver_jobs: every item must carry the org_id of this transaction' using errcode = '42501';
  end if;
  insert into graphile_worker._private_tasks (identifier) values ('deliver') on conflict do nothing;
  insert into graphile_worker._private_jobs (task_id, payload, run_at, max_attempts, priority)
  select t.id, (j->'payload')::json, coalesce((j->>'run_at')::timestamptz, now()), (j->>'max_attempts')::smallint,
         coalesce((j->>'priority')::smallint, 0)
  from jsonb_array_elements(p_jobs) with ordinality as x(j, o)
  cross join graphile_worker._private_tasks t
  where t.identifier = 'deliver'
  order by o;
  get diagnostics added = row_count;
  return added;
end
$$;
revoke all on function hookledger.insert_deliver_jobs(jsonb) from public;
grant execute on function hookledger.insert_deliver_jobs(jsonb) to hookledger_app;
comment on function hookledger.insert_deliver_jobs(jsonb) is
  'Inserts deliver jobs (batch payloads of the current organization, priority 0-2 set by the service from the work''s width) without add_jobs'' NOTIFY; see sql/031 and sql/084.';
