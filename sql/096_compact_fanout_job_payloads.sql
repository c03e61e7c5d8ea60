-- A flush's deliver jobs carry their deliveries as one list of ids: `{"org_id": …, "attempt": 1, "delivery_ids":
-- […]}`, not a list of `{"org_id", "delivery_id", "attempt"}` objects (sql/088).
--
-- Why: every delivery a flush scheduled cost an object built by json_build_object (the organization's id turned
-- into text once per delivery), and a job of 32 such items is ~4 KB of JSON, past the 2 KB at which PostgreSQL
-- compresses a row's large values before storing them (TOAST), so every fan-out job was also compressed on insert
-- and decompressed when the worker fetched it. Measured in one backend (2026-12-06, 10,000 jobs of 32 deliveries
-- inserted by this function and by sql/088's, each in a rolled-back transaction, interleaved, twice each): 1.07 and
-- 1.04 s with the objects, 0.26 and 0.27 s with the list (~1.4 KB a job): ~2.5 µs less per scheduled delivery, of
-- the ~46 µs of CPU (API and Postgres) a delivery scheduled at fan-out 100 costs in the bench. The worker validates
-- an id per delivery instead of an object.
--
-- The worker runs jobs of every shape (src/outbound/deliverTask.ts): the list, the list of objects (jobs the
-- service builds elsewhere: retries, re-queues, recover; and fan-out jobs queued before this migration), and the
-- single object of the first version. Checks and grants are sql/088's.

create or replace function hookledger.insert_fanout_jobs(p_delivery_ids uuid[], p_job_size integer, p_priority integer, p_max_attempts integer)
returns integer
language plpgsql security definer set search_path = pg_catalog, pg_temp
as $$
declare
  org uuid := hookledger.current_org_id();
  task integer;
  added integer;
begin
  if org is null then
    raise exception 'insert_fanout_jobs: no tenant set for this transaction' using errcode = '42501';
  end if;
  if p_job_size is null or p_job_size not between 1 and 1000 or p_priority is null or p_priority not in (0, 1, 2)
     or p_max_attempts is null or p_max_attempts not between 1 and 25 then
    raise exception 'insert_fanout_jobs: a job size of 1-1000, a priority of 0, 1 or 2 and 1-25 attempts' using errcode = '42501';
  end if;
  select t.id into task from graphile_worker._private_tasks t where t.identifier = 'deliver';
  if task is null then
    insert into graphile_worker._private_tasks (identifier) values ('deliver') on conflict do nothing;
    select t.id into task from graphile_worker._private_tasks t where t.identifier = 'deliver';
  end if;
  insert into graphile_worker._private_jobs (task_id, payload, run_at, max_attempts, priority)
  select task,
         json_build_object('org_id', org, 'attempt', 1, 'delivery_ids', to_json(p_delivery_ids[s.first : s.first + p_job_size - 1])),
         now(), p_max_attempts::smallint, p_priority::smallint
  from generate_series(1, coalesce(cardinality(p_delivery_ids), 0), p_job_size) as s(first)
  order by s.first;
  get diagnostics added = row_count;
  return added;
end
$$;
comment on function hookledger.insert_fanout_jobs(uuid[], integer, integer, integer) is
  'Queues the given new deliveries (attempt 1, due now) of the transaction''s organization as deliver jobs of p_job_size each, in order, each {org_id, attempt, delivery_ids}, without add_jobs'' NOTIFY; see sql/088 and sql/096.';
