-- No planner statistics for the bulky columns no query filters, joins or sorts on: entry data and meta, payloads,
-- bodies, header maps and response excerpts.
--
-- Why: ANALYZE samples 30,000 rows of a table and, for every column, sorts and compares the sampled values. On the
-- ledger that meant detoasting and comparing 60,000 jsonb documents per analysis: measured on a 60k-row table of
-- delivery.attempted-shaped entries, 360–385 ms per ANALYZE with these statistics, 170–190 ms without. The worker
-- analyses young tables as they double (src/db/youngTableStatistics.ts) and autovacuum analyses them after that,
-- so this ran in live traffic: the steady-state bench spent 3 × 700 ms of the database's CPU analysing the current
-- ledger partition in a 20 s window. Every query on these tables filters on the plain columns beside them (org_id,
-- stream, type, actor_kind, actor_id, ids, times), whose statistics stay.
--
-- A partition does not inherit its parent's per-column statistics target, so ensure_ledger_partitions sets it on
-- every partition it creates (its body is 002's, plus that statement), and the existing partitions are set here.

alter table hookledger.ledger alter column data set statistics 0, alter column meta set statistics 0;
alter table hookledger.events alter column payload set statistics 0;
alter table hookledger.delivery_attempts alter column response_headers set statistics 0,
  alter column response_excerpt set statistics 0;
alter table hookledger.ingress_receipts alter column headers set statistics 0, alter column body set statistics 0,
  alter column verification set statistics 0;

do $$
declare
  partition regclass;
begin
  for partition in select inhrelid::regclass from pg_inherits where inhparent = 'hookledger.ledger'::regclass loop
    execute format('alter table %s alter column data set statistics 0, alter column meta set statistics 0', partition);
  end loop;
end
$$;

create or replace function hookledger_private.ensure_ledger_partitions(months_ahead integer, from_month date default current_date)
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
      execute format('alter table hookledger.%I alter column data set statistics 0, alter column meta set statistics 0', partition_name);
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
