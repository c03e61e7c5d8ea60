-- Per-organization quotas: overrides of the instance defaults, and daily event counters.
alter table hookledger.organizations add column quotas jsonb not null default '{}';
comment on column hookledger.organizations.quotas is
  'Quota overrides set by the instance admin (events_per_day, applications, subscriptions_per_application); missing keys use the instance defaults.';

-- Why shards: every event of a tenant increments its day's counter inside the ingest transaction; one row per
-- day would serialise a tenant's concurrent ingests on that row's lock. Eight rows, picked at random, spread it.
create table hookledger.usage_counters (
  org_id uuid    not null,
  day    date    not null,
  shard  integer not null check (shard between 0 and 7),
  events bigint  not null default 0,
  primary key (org_id, day, shard)
);
comment on table hookledger.usage_counters is 'Events accepted per organization per UTC day, in 8 shards to avoid lock contention (sum them).';
select hookledger_private.protect_tenant_table('hookledger.usage_counters');
