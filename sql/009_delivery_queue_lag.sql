-- Queue lag for /metrics: how long the oldest due delivery job has been waiting. graphile-worker's tables are not
-- readable by the service role (RLS without policies), so this narrow SECURITY DEFINER function exposes one number.
create function hookledger.delivery_queue_lag_seconds() returns double precision
language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select coalesce(extract(epoch from now() - min(run_at)), 0)::double precision
  from graphile_worker.jobs
  where task_identifier = 'deliver' and run_at <= now() and locked_at is null
$$;
revoke all on function hookledger.delivery_queue_lag_seconds() from public;
grant execute on function hookledger.delivery_queue_lag_seconds() to hookledger_app;
comment on function hookledger.delivery_queue_lag_seconds() is
  'Seconds the oldest due, unlocked delivery job has waited (0 when none): the delivery queue lag.';
