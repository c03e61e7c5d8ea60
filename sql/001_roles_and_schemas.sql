-- Roles and schemas. Runs as the owner role (the DATABASE_URL user), which owns every object created here.
--
-- Roles are cluster-wide while everything else is per database, so role creation tolerates a role that another
-- hookledger database on the same cluster already made.

do $$
begin
  if not exists (select from pg_roles where rolname = 'hookledger_app') then
    create role hookledger_app login nosuperuser nocreatedb nocreaterole nobypassrls noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'hookledger_admin') then
    create role hookledger_admin nologin nosuperuser nocreatedb nocreaterole nobypassrls;
  end if;
  if not exists (select from pg_roles where rolname = 'hookledger_authenticator') then
    create role hookledger_authenticator nologin nosuperuser nocreatedb nocreaterole nobypassrls;
  end if;
  if not exists (select from pg_roles where rolname = 'hookledger_auditor') then
    create role hookledger_auditor nologin nosuperuser nocreatedb nocreaterole nobypassrls;
  end if;
end
$$;

comment on role hookledger_app is
  'hookledger service role: serves the API and runs task SQL. Owns nothing, has no BYPASSRLS: row-level security applies to all it does.';
comment on role hookledger_admin is
  'hookledger instance administration: the service switches to it (SET LOCAL ROLE) only for audited instance-admin work across tenants.';
comment on role hookledger_authenticator is
  'hookledger token lookup: the service switches to it (SET LOCAL ROLE) to find a bearer token by hash before the tenant is known.';
comment on role hookledger_auditor is
  'hookledger read-only auditor: GRANT hookledger_auditor TO a DBA login to read the audit views across tenants.';

-- The service may become the admin role for one transaction at a time (SET LOCAL ROLE), never by default.
grant hookledger_admin to hookledger_app;
grant hookledger_authenticator to hookledger_app;

create schema if not exists hookledger;
comment on schema hookledger is 'hookledger: the ledger and its projections (tenant data, row-level security on every table).';
grant usage on schema hookledger to hookledger_app, hookledger_admin, hookledger_authenticator, hookledger_auditor;

comment on schema hookledger_private is 'hookledger internals (migration bookkeeping); not for the service or auditors.';
revoke all on schema hookledger_private from public;

-- Nobody but the owner creates objects in our schemas.
revoke create on schema hookledger from public;

-- Lets /ready check that this database is at the version the code expects without reading hookledger_private.
create function hookledger.schema_version() returns integer
language sql stable security definer set search_path = pg_catalog, hookledger_private
as $$ select max(version) from hookledger_private.migrations $$;
revoke all on function hookledger.schema_version() from public;
grant execute on function hookledger.schema_version() to hookledger_app, hookledger_admin, hookledger_auditor;
comment on function hookledger.schema_version() is 'Highest applied hookledger migration number.';

-- The tenant of the current transaction, as set by withTenant(); NULL outside one. Every row-level security
-- policy goes through this function. Why nullif: on a pooled connection the setting reads '' (not NULL) after
-- a transaction that set it has ended, and ''::uuid throws.
create function hookledger.current_org_id() returns uuid
language sql stable parallel safe
as $$ select nullif(current_setting('hookledger.org_id', true), '')::uuid $$;
comment on function hookledger.current_org_id() is
  'Tenant (organization id) of the current transaction, set transaction-locally by the service; NULL when unset.';
