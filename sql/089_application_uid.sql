-- Applications may carry a `uid`: the caller's own identifier for the application (typically its customer's id),
-- which every route naming an application accepts in place of the generated app_id.
--
-- Unique per organization among live applications only (a partial index), so deleting an application frees its
-- uid for a new one; the index also decides concurrent get-or-creates and a PATCH racing a create. The service
-- refuses a UUID-shaped uid, so a path segment that looks like a UUID is always an id; the check below keeps the
-- format the API documents (Svix's: 1-256 characters of letters, digits, '-', '_' and '.').
--
-- Event ingestion resolves a uid from its in-memory fan-out (outbound/fanoutCache.ts), checked against the
-- organization's fan-out version: a uid given, moved or cleared must bump it as an application's deletion does.

-- (Postgres regular expressions repeat at most 255 times: the length is a check of its own.)
alter table hookledger.applications add column uid text
  check (uid ~ '^[a-zA-Z0-9._-]+$' and length(uid) <= 256);
comment on column hookledger.applications.uid is
  'The caller''s own identifier for the application, unique in the organization among live applications (never UUID-shaped); null when none.';

create unique index applications_live_uid_idx on hookledger.applications (org_id, uid) where uid is not null and deleted_at is null;

drop trigger applications_fanout_update on hookledger.applications;
create trigger applications_fanout_update after update on hookledger.applications
  for each row when (old.deleted_at is distinct from new.deleted_at or old.uid is distinct from new.uid)
  execute function hookledger_private.bump_fanout_version();
