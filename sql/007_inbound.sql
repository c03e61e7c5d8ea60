-- Inbound gateway: ingress routes, their secrets, accepted requests (receipts), the replay guard, rejection
-- counters, and pull queues with their messages.
--
-- Projections (ingress_routes, ingress_receipts, pull_queues, pull_messages) are written only by inbound/
-- projections from ledger entries. Three tables are deliberately not projections:
--   ingress_route_secrets  secrets never enter the ledger (entries record secret ids and validity windows only);
--   ingress_nonces         replay-guard memory, useless after the tolerance window and purged as it goes;
--   ingress_rejections     counters of refused requests: a flood of forged requests must not flood the ledger.

create table hookledger.ingress_routes (
  org_id             uuid        not null,
  route_id           text        not null check (route_id ~ '^rt_[0-9A-Za-z]{24}$'),
  name               text        not null,
  description        text,
  auth               jsonb       not null,
  max_body_bytes     integer     not null check (max_body_bytes > 0),
  publish_app_id     uuid,
  publish_event_type text,
  queue              text,
  enabled            boolean     not null default true,
  created_at         timestamptz not null,
  updated_at         timestamptz not null,
  deleted_at         timestamptz,
  primary key (org_id, route_id),
  check ((publish_app_id is null) = (publish_event_type is null))
);
-- The public receive URL carries only the route id, so it is looked up before the tenant is known; 143 random
-- bits make it unique across tenants.
create unique index ingress_routes_public_id_idx on hookledger.ingress_routes (route_id);
create index ingress_routes_list_idx on hookledger.ingress_routes (org_id, created_at desc, route_id desc) where deleted_at is null;
comment on table hookledger.ingress_routes is 'Public receive endpoints (POST /in/{route_id}): how requests are authenticated and where accepted ones go. Projection of ingress_route.* entries.';
comment on column hookledger.ingress_routes.route_id is 'Unguessable public id: rt_ followed by 24 base62 characters.';
comment on column hookledger.ingress_routes.auth is 'Authentication: {"type":"hmac","preset",…}, {"type":"basic","username"} or {"type":"forward","url",…}. Never holds a secret.';
comment on column hookledger.ingress_routes.queue is 'Pull queue that accepted requests are enqueued on, if any.';

create table hookledger.ingress_route_secrets (
  org_id      uuid        not null,
  route_id    text        not null,
  secret_id   text        not null,
  ciphertext  text        not null,
  source      text        not null check (source in ('value', 'generated', 'env', 'file', 'raw')),
  valid_from  timestamptz not null,
  valid_until timestamptz,
  created_at  timestamptz not null,
  primary key (org_id, route_id, secret_id),
  check (valid_until is null or valid_until > valid_from)
);
comment on table hookledger.ingress_route_secrets is 'Verification secrets (HMAC keys, basic-auth passwords) of ingress routes, AES-256-GCM encrypted under the configured keyring.';
comment on column hookledger.ingress_route_secrets.valid_from is 'Inclusive start of validity, compared with the signed timestamp of a request (or the receive time when none is signed).';
comment on column hookledger.ingress_route_secrets.valid_until is 'Exclusive end of validity; NULL while the secret is current.';
comment on column hookledger.ingress_route_secrets.source is 'Where the value came from: given in the API, generated, or resolved once from an env:/file:/raw: reference.';

create table hookledger.ingress_receipts (
  org_id       uuid        not null,
  receipt_id   text        not null,
  route_id     text        not null,
  content_type text,
  headers      jsonb       not null,
  body         bytea       not null,
  body_sha256  text        not null,
  verification jsonb       not null,
  received_at  timestamptz not null,
  primary key (org_id, receipt_id)
);
create index ingress_receipts_route_idx on hookledger.ingress_receipts (org_id, route_id, received_at desc, receipt_id desc);
comment on table hookledger.ingress_receipts is 'Accepted inbound requests, body byte-exact, headers without credentials or signatures. Projection of ingress.received.';

create table hookledger.ingress_nonces (
  org_id     uuid        not null,
  route_id   text        not null,
  nonce_hash text        not null,
  expires_at timestamptz not null,
  primary key (org_id, route_id, nonce_hash)
);
create index ingress_nonces_expiry_idx on hookledger.ingress_nonces (org_id, route_id, expires_at);
comment on table hookledger.ingress_nonces is 'Replay guard: SHA-256 of each accepted request''s nonce, remembered until its signed time leaves the tolerance window.';

create table hookledger.ingress_rejections (
  org_id           uuid        not null,
  route_id         text        not null,
  reason           text        not null,
  count            bigint      not null,
  last_rejected_at timestamptz not null,
  primary key (org_id, route_id, reason)
);
comment on table hookledger.ingress_rejections is 'Refused requests per route and reason (bad signature, replay, too large, forward-auth outcome). Counters, not ledger entries.';

create table hookledger.pull_queues (
  org_id         uuid        not null,
  queue          text        not null check (queue ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
  description    text,
  max_deliveries integer     not null check (max_deliveries > 0),
  lease_seconds  integer     not null check (lease_seconds > 0),
  created_at     timestamptz not null,
  updated_at     timestamptz not null,
  primary key (org_id, queue)
);
comment on table hookledger.pull_queues is 'Pull queues consumers lease messages from (/v1/pull/{queue}). Projection of pull_queue.* entries.';
comment on column hookledger.pull_queues.max_deliveries is 'Leases a message may get; the next dequeue after that moves it to the dead-letter list.';

create table hookledger.pull_messages (
  org_id           uuid        not null,
  message_id       uuid        not null,
  queue            text        not null,
  receipt_id       text        not null,
  state            text        not null check (state in ('ready', 'leased', 'dead')),
  deliveries       integer     not null default 0,
  visible_at       timestamptz not null,
  lease_id         uuid,
  lease_expires_at timestamptz,
  enqueued_at      timestamptz not null,
  dead_at          timestamptz,
  updated_at       timestamptz not null,
  primary key (org_id, message_id)
);
-- Dequeue scans this index in visibility order; an expired lease is visible again without any sweeper because a
-- lease sets visible_at to its expiry.
create index pull_messages_visible_idx on hookledger.pull_messages (org_id, queue, visible_at, message_id) where state <> 'dead';
create index pull_messages_lease_idx on hookledger.pull_messages (org_id, lease_id) where lease_id is not null;
create index pull_messages_dead_idx on hookledger.pull_messages (org_id, queue, dead_at desc, message_id desc) where state = 'dead';
comment on table hookledger.pull_messages is 'Messages waiting in pull queues, leased, or dead-lettered; acknowledged and purged messages are removed (the ledger keeps their history). Projection of pull.* entries.';
comment on column hookledger.pull_messages.visible_at is 'When the message may be leased next: enqueue time, lease expiry, or the end of a nack delay.';
comment on column hookledger.pull_messages.deliveries is 'How many times the message has been leased.';

select hookledger_private.protect_tenant_table(t)
from unnest(array['hookledger.ingress_routes', 'hookledger.ingress_route_secrets', 'hookledger.ingress_receipts', 'hookledger.ingress_nonces',
                  'hookledger.ingress_rejections', 'hookledger.pull_queues', 'hookledger.pull_messages']::regclass[]) t;

-- The public receive endpoint: find a route's tenant by its public id, reading nothing else.
create policy route_lookup on hookledger.ingress_routes for select to hookledger_authenticator using (true);
grant select (org_id, route_id, enabled, deleted_at) on hookledger.ingress_routes to hookledger_authenticator;

-- Queue depth and age for humans and dashboards; security_invoker so row-level security applies to the reader.
create view hookledger.pull_queue_stats with (security_invoker = true) as
select q.org_id, q.queue,
       count(m.message_id) filter (where m.state <> 'dead' and m.visible_at <= now()) as ready,
       count(m.message_id) filter (where m.state = 'ready' and m.visible_at > now()) as delayed,
       count(m.message_id) filter (where m.state = 'leased' and m.visible_at > now()) as leased,
       count(m.message_id) filter (where m.state = 'dead') as dead,
       min(m.enqueued_at) filter (where m.state <> 'dead') as oldest_enqueued_at
from hookledger.pull_queues q
left join hookledger.pull_messages m on m.org_id = q.org_id and m.queue = q.queue
group by q.org_id, q.queue;
grant select on hookledger.pull_queue_stats to hookledger_app;
comment on view hookledger.pull_queue_stats is 'Per pull queue: messages ready to lease now, delayed by a nack, leased, dead-lettered, and when the oldest live message was enqueued.';
