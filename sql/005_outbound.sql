-- Outbound webhooks: event types, subscriptions (endpoints), events, deliveries and delivery attempts.
-- Projections are written only by outbound/ projections from ledger entries. subscription_secrets is the one
-- exception: signing secrets never enter the ledger (entries record key ids only), so their encrypted values
-- live in this table alone and survive projection rebuilds.

create table hookledger.event_types (
  org_id      uuid        not null,
  app_id      uuid        not null,
  name        text        not null,
  description text,
  schema      jsonb,
  deprecated  boolean     not null default false,
  created_at  timestamptz not null,
  updated_at  timestamptz not null,
  deleted_at  timestamptz,
  primary key (org_id, app_id, name)
);
comment on table hookledger.event_types is 'Event types per application: dotted names, optional JSON Schema for payloads, deprecation flag.';

create table hookledger.subscriptions (
  org_id               uuid        not null,
  subscription_id      uuid        not null,
  app_id               uuid        not null,
  url                  text        not null,
  event_types          text[]      not null,
  labels               jsonb       not null default '{}',
  headers              jsonb       not null default '{}',
  description          text,
  metadata             jsonb       not null default '{}',
  enabled              boolean     not null default true,
  disabled_reason      text,
  signature_scheme     text        not null check (signature_scheme in ('standard-webhooks', 'hookledger-v1')),
  signed_headers       text[]      not null default '{}',
  retry_schedule       double precision[],
  max_attempts         integer     not null,
  timeout_ms           integer     not null,
  consecutive_failures integer     not null default 0,
  failing_since        timestamptz,
  last_success_at      timestamptz,
  last_failure_at      timestamptz,
  auto_disabled_at     timestamptz,
  created_at           timestamptz not null,
  updated_at           timestamptz not null,
  deleted_at           timestamptz,
  primary key (org_id, subscription_id)
);
create index subscriptions_app_idx on hookledger.subscriptions (org_id, app_id) where deleted_at is null;
create index subscriptions_list_idx on hookledger.subscriptions (org_id, created_at desc, subscription_id desc) where deleted_at is null;
comment on table hookledger.subscriptions is 'Endpoints that receive an application''s events, with their filters, signing scheme, retry policy and health.';
comment on column hookledger.subscriptions.consecutive_failures is 'Failed delivery attempts since the last success; with failing_since, drives auto-disable.';

create table hookledger.subscription_secrets (
  org_id          uuid        not null,
  subscription_id uuid        not null,
  key_id          text        not null,
  ciphertext      text        not null,
  created_at      timestamptz not null,
  expires_at      timestamptz,
  primary key (org_id, subscription_id, key_id)
);
comment on table hookledger.subscription_secrets is 'Signing secrets, AES-256-GCM encrypted under the configured keyring. A secret with expires_at in the future still signs (rotation overlap).';

create table hookledger.events (
  org_id                uuid        not null,
  event_id              text        not null,
  app_id                uuid        not null,
  event_type            text        not null,
  content_type          text        not null,
  payload_encoding      text        not null check (payload_encoding in ('json', 'text', 'base64')),
  payload               text        not null,
  payload_sha256        text        not null,
  labels                jsonb       not null default '{}',
  occurred_at           timestamptz not null,
  received_at           timestamptz not null,
  deliveries_scheduled  integer     not null,
  primary key (org_id, event_id)
);
create index events_list_idx on hookledger.events (org_id, received_at desc, event_id desc);
create index events_type_idx on hookledger.events (org_id, event_type, received_at desc);
comment on table hookledger.events is 'Events received from producers, with their payload exactly as delivered.';

create table hookledger.deliveries (
  org_id          uuid        not null,
  delivery_id     uuid        not null,
  event_id        text        not null,
  subscription_id uuid        not null,
  app_id          uuid        not null,
  status          text        not null check (status in ('pending', 'retrying', 'succeeded', 'failed', 'cancelled')),
  reason          text        not null,
  attempts        integer     not null default 0,
  next_attempt_at timestamptz,
  last_attempt_at timestamptz,
  last_status_code integer,
  last_error_class text,
  created_at      timestamptz not null,
  updated_at      timestamptz not null,
  completed_at    timestamptz,
  primary key (org_id, delivery_id)
);
create index deliveries_subscription_idx on hookledger.deliveries (org_id, subscription_id, created_at desc, delivery_id desc);
create index deliveries_event_idx on hookledger.deliveries (org_id, event_id);
create index deliveries_status_idx on hookledger.deliveries (org_id, subscription_id, status, created_at);
comment on table hookledger.deliveries is 'One row per (event, subscription) delivery, with its current state: pending, retrying, succeeded, failed (dead) or cancelled.';

create table hookledger.delivery_attempts (
  org_id           uuid        not null,
  attempt_id       uuid        not null,
  delivery_id      uuid        not null,
  event_id         text        not null,
  subscription_id  uuid        not null,
  attempt_number   integer     not null,
  outcome          text        not null check (outcome in ('succeeded', 'failed')),
  status_code      integer,
  error_class      text check (error_class in ('timeout', 'connection', 'tls', 'dns', 'blocked', 'http_status')),
  error_message    text,
  duration_ms      integer     not null,
  response_headers jsonb       not null default '{}',
  response_excerpt text,
  attempted_at     timestamptz not null,
  next_attempt_at  timestamptz,
  primary key (org_id, attempt_id)
);
create unique index delivery_attempts_number_idx on hookledger.delivery_attempts (org_id, delivery_id, attempt_number);
create index delivery_attempts_subscription_idx on hookledger.delivery_attempts (org_id, subscription_id, attempted_at desc, attempt_id desc);
create index delivery_attempts_event_idx on hookledger.delivery_attempts (org_id, event_id, attempted_at desc);
create index delivery_attempts_time_idx on hookledger.delivery_attempts (org_id, attempted_at desc, attempt_id desc);
comment on table hookledger.delivery_attempts is 'Every delivery attempt, immutable once written: status, duration, response headers and a capped body excerpt, error class.';

select hookledger_private.protect_tenant_table(t)
from unnest(array['hookledger.event_types', 'hookledger.subscriptions', 'hookledger.subscription_secrets', 'hookledger.events',
                  'hookledger.deliveries', 'hookledger.delivery_attempts']::regclass[]) t;
