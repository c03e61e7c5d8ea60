-- Per-organization retention. NULL means the instance default (HOOKLEDGER_RETENTION_DAYS).
alter table hookledger.organizations add column retention_days integer check (retention_days between 1 and 3650);
comment on column hookledger.organizations.retention_days is
  'Days of delivery history kept for this organization; NULL = the instance default (HOOKLEDGER_RETENTION_DAYS).';
