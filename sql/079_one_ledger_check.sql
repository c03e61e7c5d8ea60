-- The ledger's three check constraints become one.
--
-- Why: PostgreSQL 18 builds an INSERT's check constraints anew on every execution, and for a table with a virtual
-- generated column (the ledger's redacted_data, sql/030) it expands that column's whole expression into each check
-- constraint as it builds it, whether the constraint names the column or not. With three constraints every
-- statement that appends to the ledger parsed the redacted_data expression three times. Counted with callgrind
-- (instructions, so repeatable whatever else the machine does; a single-user backend calling ingest_batch 100 times,
-- the cost of building its arguments subtracted): 3.44 -> 3.00 M instructions per call of one event, 6.98 -> 6.51 M
-- for six; the same ~0.45 M is saved by every receive_batch, record_successes and append_entries call.
--
-- The rule is the same: a stream of 1 to 200 characters, a version from 1, a dotted lower-case type. Adding it reads
-- the ledger once to validate it, while writes to it wait (migrations run before the service starts; expect a
-- second or two per million entries).
alter table hookledger.ledger
  drop constraint ledger_stream_check,
  drop constraint ledger_version_check,
  drop constraint ledger_type_check,
  add constraint ledger_entry_check check (
    length(stream) between 1 and 200
    and version > 0
    and type ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$');
