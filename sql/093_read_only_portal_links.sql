-- A portal link may be read-only: the session it opens sees the application's endpoints, events, deliveries and
-- attempts but changes nothing (Svix's read-only app portal). Both the link and the session it opened carry the
-- flag, from their ledger entries (portal.link_created, console.session_started), so a rebuild restores it.

alter table hookledger.portal_links add column read_only boolean not null default false;
comment on column hookledger.portal_links.read_only is 'The session this link opens may read the application only (no changes, no secret reveals).';

alter table hookledger.console_sessions add column read_only boolean not null default false;
comment on column hookledger.console_sessions.read_only is 'A portal session opened by a read-only link: it holds the portal''s read scopes only.';
