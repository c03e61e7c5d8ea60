-- The ledger's row rules and its actor columns move from a check constraint and two stored generated columns into
-- one BEFORE INSERT trigger.
--
-- Why: PostgreSQL 18 expands a table's virtual generated column (the ledger's redacted_data, sql/030) into the
-- expressions it builds on every execution of an INSERT: each check constraint's, and the stored generated
-- columns'. sql/079 cut three check constraints to one; what was left still parsed redacted_data's expression twice
-- per statement, whatever the statement's size. A trigger's body is compiled once per session and involves no
-- generated column, so the virtual column then costs an INSERT nothing. Counted with callgrind (instructions, so
-- repeatable whatever else the machine does; a single-user backend calling ingest_batch 90 times with batches the
-- service made, a no-op call's cost subtracted): 3.36 -> 2.81 M instructions per call of 4 events, 7.57 -> 7.08 M
-- for 15; the trigger itself adds ~7 k per row. Every statement that appends to the ledger (ingest_batch,
-- receive_batch, record_successes, append_entries) saves the same ~0.5 M per call.
--
-- What is enforced is unchanged: a stream of 1 to 200 characters, a version from 1, a dotted lower-case type,
-- refused with check_violation (23514) naming ledger_entry_check as before; and actor_kind and actor_id are meta's
-- actor.kind and actor.id, whatever a writer gives (UPDATE stays refused, so they cannot drift). Rows already
-- written keep their values (DROP EXPRESSION keeps what is stored).

create function hookledger_private.ledger_entry_rules() returns trigger
language plpgsql as $$
begin
  if not (length(new.stream) between 1 and 200 and new.version > 0 and new.type ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$') then
    raise exception 'ledger entry refused: a stream of 1 to 200 characters, a version from 1 and a dotted lower-case type are required'
      using errcode = 'check_violation', constraint = 'ledger_entry_check', table = 'ledger', schema = 'hookledger';
  end if;
  new.actor_kind := new.meta -> 'actor' ->> 'kind';
  new.actor_id := new.meta -> 'actor' ->> 'id';
  return new;
end
$$;
comment on function hookledger_private.ledger_entry_rules() is
  'The ledger''s row rules (stream, version, type) and its actor columns copied from meta, for every INSERT: see sql/080.';

alter table hookledger.ledger drop constraint ledger_entry_check;
alter table hookledger.ledger alter column actor_kind drop expression;
alter table hookledger.ledger alter column actor_id drop expression;

create trigger ledger_entry_rules
  before insert on hookledger.ledger
  for each row execute function hookledger_private.ledger_entry_rules();
