-- The ledger: one append-only table of every action, range-partitioned by month on recorded_at.
--
-- Why a separate streams table: on a partitioned table a unique constraint must include the partition key, so
-- (org_id, stream, version) cannot be unique across months. Optimistic concurrency therefore lives in
-- ledger_streams (one row per stream, its current version), whose row lock also serialises concurrent appends
-- to the same stream.
-- Why xact_id: a position is assigned at insert, but transactions commit in any order, so "after position N"
-- can skip a lower position that commits late. Tailing readers read below pg_snapshot_xmin and order by
-- (xact_id, position); see ledger/readAll.ts.

create sequence hookledger.ledger_position_seq as bigint;
comment on sequence hookledger.ledger_position_seq is 'Global ledger position: monotonically increasing, gaps allowed.';

create table hookledger.ledger (
  org_id      uuid        not null,
  position    bigint      not null default nextval('hookledger.ledger_position_seq'),
  stream      text        not null check (length(stream) between 1 and 200),
  version     integer     not null check (version > 0),
  type        text        not null check (type ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
  data        jsonb       not null,
  meta        jsonb       not null default '{}',
  recorded_at timestamptz not null default now(),
  xact_id     xid8        not null default pg_current_xact_id(),
  -- Plain columns for the audit log's filters: under RLS a jsonb predicate (meta->...) is not leakproof, runs
  -- after the policy and defeats indexes; text equality on a stored column does not.
  actor_kind  text        generated always as (meta->'actor'->>'kind') stored,
  actor_id    text        generated always as (meta->'actor'->>'id') stored,
  primary key (org_id, position, recorded_at)
) partition by range (recorded_at);
alter sequence hookledger.ledger_position_seq owned by hookledger.ledger.position;

comment on table hookledger.ledger is 'Append-only record of every action in hookledger. UPDATE and DELETE are refused; retention drops whole monthly partitions.';
comment on column hookledger.ledger.org_id is 'Tenant (organization) the entry belongs to; 00000000-0000-0000-0000-000000000000 for instance-level entries.';
comment on column hookledger.ledger.position is 'Global order of appends (gaps possible). Do not tail by position alone: see xact_id.';
comment on column hookledger.ledger.stream is 'The aggregate the entry belongs to, as kind:id (e.g. subscription:9f0c…).';
comment on column hookledger.ledger.version is 'Position of the entry within its stream, from 1; gapless per stream.';
comment on column hookledger.ledger.type is 'Dotted, past-tense entry type (e.g. delivery.attempted); see the entry-type catalogue.';
comment on column hookledger.ledger.data is 'Entry payload, validated against the catalogue schema of its type. Never holds secrets in clear text.';
comment on column hookledger.ledger.meta is 'Who and where: actor, token id and label, request id, client ip, user agent, reason.';
comment on column hookledger.ledger.recorded_at is 'Commit-transaction start time of the append; the partition key.';
comment on column hookledger.ledger.actor_kind is 'Who acted (token, instance_admin, system, worker), copied from meta for indexed filtering.';
comment on column hookledger.ledger.actor_id is 'Id of the acting token, copied from meta for indexed filtering.';
comment on column hookledger.ledger.xact_id is 'Transaction that appended the entry; tail with (xact_id, position) below pg_snapshot_xmin.';

create index ledger_stream_idx on hookledger.ledger (org_id, stream, version);
create index ledger_org_type_time_idx on hookledger.ledger (org_id, type, recorded_at);
create index ledger_org_time_idx on hookledger.ledger (org_id, recorded_at, position);
create index ledger_tail_idx on hookledger.ledger (xact_id, position);
create index ledger_audit_idx on hookledger.ledger (org_id, actor_id, position) where actor_kind in ('token', 'instance_admin');

create table hookledger.ledger_streams (
  org_id     uuid        not null,
  stream     text        not null,
  version    integer     not null check (version > 0),
  updated_at timestamptz not null default now(),
  primary key (org_id, stream)
);
comment on table hookledger.ledger_streams is 'Current version of every ledger stream: the optimistic-concurrency check for appends.';

-- Append-only, enforced for everyone, the owner included.
create function hookledger_private.refuse_ledger_change() returns trigger
language plpgsql as $$
begin
  raise exception 'hookledger.ledger is append-only: % refused', tg_op
    using errcode = 'HL403', hint = 'Correct a mistake by appending a new entry; retention drops whole partitions.';
end
$$;

create trigger ledger_refuse_update_delete
  before update or delete on hookledger.ledger
  for each row execute function hookledger_private.refuse_ledger_change();

-- Monthly partitions, created ahead of time (at migrate and by the ledger.ensure_partitions cron task).
-- A TRUNCATE trigger is added per partition because statement triggers on the parent do not fire for a
-- partition truncated directly.
create function hookledger_private.ensure_ledger_partitions(months_ahead integer, from_month date default current_date)
returns setof text
language plpgsql as $$
declare
  month_start date;
  partition_name text;
begin
  for i in 0..months_ahead loop
    month_start := (date_trunc('month', from_month) + make_interval(months => i))::date;
    partition_name := format('ledger_y%sm%s', to_char(month_start, 'YYYY'), to_char(month_start, 'MM'));
    if to_regclass(format('hookledger.%I', partition_name)) is null then
      execute format(
        'create table hookledger.%I partition of hookledger.ledger for values from (%L) to (%L)',
        partition_name, month_start::timestamptz, (month_start + interval '1 month')::timestamptz);
      execute format(
        'create trigger ledger_refuse_truncate before truncate on hookledger.%I '
        'for each statement execute function hookledger_private.refuse_ledger_change()', partition_name);
      execute format('comment on table hookledger.%I is %L', partition_name,
        format('Ledger entries recorded in %s (partition of hookledger.ledger).', to_char(month_start, 'YYYY-MM')));
      return next partition_name;
    end if;
  end loop;
end
$$;
comment on function hookledger_private.ensure_ledger_partitions(integer, date) is
  'Creates the monthly ledger partitions from from_month up to months_ahead months later; returns the names created.';

create trigger ledger_refuse_truncate
  before truncate on hookledger.ledger
  for each statement execute function hookledger_private.refuse_ledger_change();

-- Every tenant table gets the same protection through this one function: RLS enabled AND forced (so the table
-- owner is subject to it too), the tenant policy on the transaction-local setting, and the service role's grants.
create function hookledger_private.protect_tenant_table(target regclass) returns void
language plpgsql as $$
begin
  execute format('alter table %s enable row level security', target);
  execute format('alter table %s force row level security', target);
  execute format('create policy tenant_isolation on %s using (org_id = hookledger.current_org_id()) '
                 'with check (org_id = hookledger.current_org_id())', target);
  execute format('grant select, insert, update, delete on %s to hookledger_app', target);
end
$$;
comment on function hookledger_private.protect_tenant_table(regclass) is
  'Enables and forces row-level security on a tenant table, adds the tenant_isolation policy and grants the service role.';

-- Row-level security: a tenant sees and writes only its own rows. The ledger's grants are narrower (no UPDATE or
-- DELETE), so it is set up by hand.
alter table hookledger.ledger enable row level security;
alter table hookledger.ledger force row level security;
create policy tenant_isolation on hookledger.ledger
  using (org_id = hookledger.current_org_id())
  with check (org_id = hookledger.current_org_id());

alter table hookledger.ledger_streams enable row level security;
alter table hookledger.ledger_streams force row level security;
create policy tenant_isolation on hookledger.ledger_streams
  using (org_id = hookledger.current_org_id())
  with check (org_id = hookledger.current_org_id());

-- Instance administration reads across tenants (listing organizations to rebuild, retention); it writes nothing.
create policy instance_admin_read on hookledger.ledger for select to hookledger_admin using (true);
create policy instance_admin_read on hookledger.ledger_streams for select to hookledger_admin using (true);
grant select on hookledger.ledger, hookledger.ledger_streams to hookledger_admin;

grant select, insert on hookledger.ledger to hookledger_app;
grant usage on sequence hookledger.ledger_position_seq to hookledger_app;
grant select, insert, update on hookledger.ledger_streams to hookledger_app;

-- Appends entries to one or more streams in one statement, checking each stream's expected version.
-- expected: -1 = any version (stream created if missing), 0 = the stream must not exist yet, n > 0 = the stream
-- must be exactly at version n. A mismatch raises SQLSTATE HL409 and, the statement failing, writes nothing.
-- Why one function: fan-out appends hundreds of new streams at once; a round trip per stream would dominate.
create function hookledger.append_entries(
  p_streams text[], p_expected integer[], p_counts integer[], p_entries jsonb)
returns table (entry_position bigint, entry_org_id uuid, entry_stream text, entry_version integer, entry_recorded_at timestamptz)
language plpgsql as $$
declare
  p_org_id uuid := hookledger.current_org_id();
  bases integer[] := '{}';
  base integer;
  actual integer;
begin
  if p_org_id is null then
    raise exception 'append_entries: no tenant set for this transaction' using errcode = '42501';
  end if;
  for i in 1..coalesce(array_length(p_streams, 1), 0) loop
    if p_expected[i] = 0 then
      insert into hookledger.ledger_streams (org_id, stream, version)
      values (p_org_id, p_streams[i], p_counts[i])
      on conflict (org_id, stream) do nothing;
      if not found then
        select s.version into actual from hookledger.ledger_streams s where s.org_id = p_org_id and s.stream = p_streams[i];
        raise exception 'stream % expected to be new but is at version %', p_streams[i], actual
          using errcode = 'HL409', detail = json_build_object('stream', p_streams[i], 'expected', 0, 'actual', actual)::text;
      end if;
      base := 0;
    elsif p_expected[i] = -1 then
      insert into hookledger.ledger_streams as s (org_id, stream, version)
      values (p_org_id, p_streams[i], p_counts[i])
      on conflict (org_id, stream) do update set version = s.version + excluded.version, updated_at = now()
      returning s.version - p_counts[i] into base;
    else
      update hookledger.ledger_streams s set version = s.version + p_counts[i], updated_at = now()
      where s.org_id = p_org_id and s.stream = p_streams[i] and s.version = p_expected[i]
      returning s.version - p_counts[i] into base;
      if not found then
        select s.version into actual from hookledger.ledger_streams s where s.org_id = p_org_id and s.stream = p_streams[i];
        raise exception 'stream % expected at version % but is at version %', p_streams[i], p_expected[i], coalesce(actual, 0)
          using errcode = 'HL409',
                detail = json_build_object('stream', p_streams[i], 'expected', p_expected[i], 'actual', coalesce(actual, 0))::text;
      end if;
    end if;
    bases := bases || base;
  end loop;

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
revoke all on function hookledger.append_entries(text[], integer[], integer[], jsonb) from public;
grant execute on function hookledger.append_entries(text[], integer[], integer[], jsonb) to hookledger_app;
comment on function hookledger.append_entries(text[], integer[], integer[], jsonb) is
  'Appends entries to streams of the current tenant with optimistic concurrency (expected -1 any, 0 new, n exact); SQLSTATE HL409 on conflict.';
