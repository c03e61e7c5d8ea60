-- Liveness of worker processes, so jobs locked by a worker that died (kill -9, OOM, lost VM) are released in
-- seconds instead of after graphile-worker's fixed 4-hour lock timeout. Written by the worker runner's own pool
-- (the owner role); tenants never see it.
create table hookledger_private.worker_heartbeats (
  worker_id  text        primary key,
  hostname   text        not null,
  pid        integer     not null,
  started_at timestamptz not null default now(),
  last_seen  timestamptz not null default now()
);
comment on table hookledger_private.worker_heartbeats is
  'One row per live graphile-worker pool/worker id; rows not refreshed within the dead-after window belong to dead workers whose jobs are unlocked.';
