-- Web console and portal: sessions (a token exchanged for a cookie), single-use portal links, and the origins an
-- organization lets embed its portal. Projections of console.* and portal.* ledger entries, written only by
-- console/projections.ts; the SHA-256 of each cookie and link lives apart in console_secrets, written by the
-- command that mints it (like subscription_secrets: nothing derived from a credential enters the ledger).

create table hookledger.console_sessions (
  org_id         uuid        not null,
  session_id     uuid        not null,
  surface        text        not null check (surface in ('console', 'portal')),
  token_id       uuid        not null,
  app_id         uuid,
  portal_link_id uuid,
  started_at     timestamptz not null,
  expires_at     timestamptz not null,
  ended_at       timestamptz,
  end_reason     text check (end_reason in ('signed_out', 'expired')),
  primary key (org_id, session_id),
  check ((surface = 'portal') = (app_id is not null))
);
comment on table hookledger.console_sessions is 'Browser sessions of the web console (an API token exchanged at sign-in) and of the portal (a redeemed portal link). Projection of console.* and portal.link_redeemed entries.';
comment on column hookledger.console_sessions.token_id is 'The token whose authority the session carries: the one signed in with, or the organization token that minted the portal link. Revoking it ends the session''s access.';
comment on column hookledger.console_sessions.app_id is 'Portal sessions see this application only.';

create table hookledger.portal_links (
  org_id      uuid        not null,
  link_id     uuid        not null,
  app_id      uuid        not null,
  token_id    uuid        not null,
  created_at  timestamptz not null,
  expires_at  timestamptz not null,
  redeemed_at timestamptz,
  session_id  uuid,
  primary key (org_id, link_id)
);
comment on table hookledger.portal_links is 'Short-lived, single-use links that open a portal session for one application. Projection of portal.link_* entries.';

create table hookledger.portal_settings (
  org_id          uuid        not null primary key,
  allowed_origins text[]      not null,
  updated_at      timestamptz not null
);
comment on table hookledger.portal_settings is 'Origins allowed to embed the organization''s portal in a frame (CSP frame-ancestors). Projection of portal.origins_set entries.';

-- A cookie or link names its organization and id, so the lookup is a primary-key read inside withTenant.
create table hookledger.console_secrets (
  org_id      uuid        not null,
  secret_for  uuid        not null,
  secret_hash bytea       not null,
  primary key (org_id, secret_for)
);
comment on table hookledger.console_secrets is 'SHA-256 of each console session cookie and portal link (by session or link id). The cookie or link itself is never stored.';

select hookledger_private.protect_tenant_table(t)
from unnest(array['hookledger.console_sessions', 'hookledger.portal_links', 'hookledger.portal_settings', 'hookledger.console_secrets']::regclass[]) t;

-- The expiry sweep (console/expireSessionsTask.ts) finds overdue sessions across tenants, reading ids and times only;
-- it records each expiry inside that session's own tenant.
create policy expiry_sweep on hookledger.console_sessions for select to hookledger_admin using (true);
grant select (org_id, session_id, expires_at, ended_at) on hookledger.console_sessions to hookledger_admin;
create index console_sessions_open_idx on hookledger.console_sessions (expires_at) where ended_at is null;
