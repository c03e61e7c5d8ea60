-- Tenancy projections: organizations, applications, API tokens. Written only by tenancy/ projections, from
-- ledger entries, in the same transaction as the append. Every table leads its primary key with org_id and has
-- row-level security forced.

create table hookledger.organizations (
  org_id     uuid        primary key,
  name       text        not null,
  metadata   jsonb       not null default '{}',
  created_at timestamptz not null,
  updated_at timestamptz not null,
  deleted_at timestamptz
);
comment on table hookledger.organizations is 'Tenants. Projection of organization.* ledger entries.';
comment on column hookledger.organizations.deleted_at is 'Set when the organization was deleted; its tokens are revoked and its applications deleted.';

create table hookledger.applications (
  org_id      uuid        not null,
  app_id      uuid        not null,
  name        text        not null,
  description text,
  metadata    jsonb       not null default '{}',
  created_at  timestamptz not null,
  updated_at  timestamptz not null,
  deleted_at  timestamptz,
  primary key (org_id, app_id)
);
create index applications_list_idx on hookledger.applications (org_id, created_at desc, app_id desc) where deleted_at is null;
comment on table hookledger.applications is 'Applications of an organization (each has event types and subscriptions). Projection of application.* entries.';

create table hookledger.api_tokens (
  org_id       uuid        not null,
  token_id     uuid        not null,
  kind         text        not null check (kind in ('instance_admin', 'organization', 'application')),
  app_id       uuid,
  label        text        not null,
  scopes       text[]      not null,
  token_prefix text        not null,
  token_hash   bytea       not null,
  expires_at   timestamptz,
  revoked_at   timestamptz,
  created_by   text,
  created_at   timestamptz not null,
  primary key (org_id, token_id),
  check ((kind = 'application') = (app_id is not null))
);
-- The lookup by hash happens before the tenant is known; the hash of a 256-bit random token is unique.
create unique index api_tokens_hash_idx on hookledger.api_tokens (token_hash);
create index api_tokens_list_idx on hookledger.api_tokens (org_id, created_at desc, token_id desc);
comment on table hookledger.api_tokens is 'API tokens. Only a SHA-256 hash of each token is stored; the token itself is shown once at creation.';
comment on column hookledger.api_tokens.token_prefix is 'First characters of the token, to recognise it in lists and secret-scanner reports.';

-- Last use is telemetry, not an action: it is flushed in batches, kept out of the ledger and out of rebuilds.
create table hookledger.token_usage (
  org_id       uuid        not null,
  token_id     uuid        not null,
  last_used_at timestamptz not null,
  primary key (org_id, token_id)
);
comment on table hookledger.token_usage is 'When each token was last used (flushed from memory every few seconds).';

select hookledger_private.protect_tenant_table(t)
from unnest(array['hookledger.organizations', 'hookledger.applications', 'hookledger.api_tokens', 'hookledger.token_usage']::regclass[]) t;

-- Instance administration lists organizations across tenants; it never reads token hashes.
create policy instance_admin_read on hookledger.organizations for select to hookledger_admin using (true);
grant select on hookledger.organizations to hookledger_admin;

-- Bearer-token authentication: find a token by hash across tenants, reading only what authentication needs.
create policy token_lookup on hookledger.api_tokens for select to hookledger_authenticator using (true);
grant select (org_id, token_id, kind, app_id, label, scopes, token_hash, expires_at, revoked_at) on hookledger.api_tokens to hookledger_authenticator;
