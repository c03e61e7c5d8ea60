-- Enqueueing graphile-worker jobs from the service role, inside the service's own transaction.
--
-- Why a SECURITY DEFINER wrapper: graphile-worker's tables have row-level security enabled with no policies, so
-- the non-owner service role gets 42501 from graphile_worker.add_jobs. The wrapper runs as the owner of the
-- worker schema with a pinned search_path, and only the service role may execute it. It joins the caller's
-- transaction, so jobs commit (or roll back) together with the ledger append that caused them.
create function hookledger.enqueue_jobs(p_jobs jsonb) returns integer
language plpgsql security definer set search_path = pg_catalog, pg_temp
as $$
declare
  added integer;
begin
  if hookledger.current_org_id() is null then
    raise exception 'enqueue_jobs: no tenant set for this transaction' using errcode = '42501';
  end if;
  if exists (select from jsonb_array_elements(p_jobs) j where j->'payload'->>'org_id' is distinct from hookledger.current_org_id()::text) then
    raise exception 'enqueue_jobs: every job payload must carry the org_id of this transaction' using errcode = '42501';
  end if;
  select count(*) into added
  from graphile_worker.add_jobs(
    array(select jsonb_populate_record(null::graphile_worker.job_spec, j) from jsonb_array_elements(p_jobs) j));
  return added;
end
$$;
revoke all on function hookledger.enqueue_jobs(jsonb) from public;
grant execute on function hookledger.enqueue_jobs(jsonb) to hookledger_app;
comment on function hookledger.enqueue_jobs(jsonb) is
  'Adds graphile-worker jobs (array of job_spec objects whose payload carries the current org_id) in the caller''s transaction.';
