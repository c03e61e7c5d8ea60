-- Audit views over the inbound gateway (issue 7): refused webhooks per route, and pull-queue depth. Same rules as
-- 006: security_invoker, every view and column commented, the service role sees one tenant, hookledger_auditor
-- reads across tenants through SELECT-only policies and column grants that exclude secrets and message bodies.

create view hookledger_audit.ingress_rejections with (security_invoker = true) as
select r.org_id,
       r.route_id,
       ir.name as route_name,
       r.reason,
       r.count,
       r.last_rejected_at
from hookledger.ingress_rejections r
left join hookledger.ingress_routes ir on ir.org_id = r.org_id and ir.route_id = r.route_id;
comment on view hookledger_audit.ingress_rejections is 'Inbound webhooks refused per route and reason (bad signature, replay, too large, forward-auth outcome); counters, not ledger entries.';
comment on column hookledger_audit.ingress_rejections.org_id is 'Organization that owns the ingress route.';
comment on column hookledger_audit.ingress_rejections.route_id is 'Public route id (POST /in/{route_id}).';
comment on column hookledger_audit.ingress_rejections.route_name is 'Name given to the route; NULL if the route row is gone.';
comment on column hookledger_audit.ingress_rejections.reason is 'Why requests were refused (e.g. signature_mismatch, replay, too_large, forward_denied).';
comment on column hookledger_audit.ingress_rejections.count is 'Requests refused for this reason since the route was created.';
comment on column hookledger_audit.ingress_rejections.last_rejected_at is 'When the last such request was refused.';

create view hookledger_audit.pull_queue_depth with (security_invoker = true) as
select s.org_id,
       s.queue,
       s.ready,
       s.delayed,
       s.leased,
       s.dead,
       s.oldest_enqueued_at,
       extract(epoch from now() - s.oldest_enqueued_at)::double precision as oldest_age_seconds
from hookledger.pull_queue_stats s;
comment on view hookledger_audit.pull_queue_depth is 'Per pull queue: messages ready, delayed by a nack, leased, dead-lettered, and the age of the oldest live message.';
comment on column hookledger_audit.pull_queue_depth.org_id is 'Organization that owns the queue.';
comment on column hookledger_audit.pull_queue_depth.queue is 'Queue name.';
comment on column hookledger_audit.pull_queue_depth.ready is 'Messages a consumer can lease now.';
comment on column hookledger_audit.pull_queue_depth.delayed is 'Messages nacked with a delay that has not passed yet.';
comment on column hookledger_audit.pull_queue_depth.leased is 'Messages leased to a consumer whose lease has not expired.';
comment on column hookledger_audit.pull_queue_depth.dead is 'Messages in the dead-letter list.';
comment on column hookledger_audit.pull_queue_depth.oldest_enqueued_at is 'When the oldest live (not dead) message was enqueued.';
comment on column hookledger_audit.pull_queue_depth.oldest_age_seconds is 'Age in seconds of the oldest live message: the queue''s lag.';

grant select on hookledger_audit.ingress_rejections, hookledger_audit.pull_queue_depth to hookledger_app, hookledger_auditor;

-- The auditor reads across tenants only what these views show: no secrets, no auth config, no message bodies.
create policy auditor_read on hookledger.ingress_rejections for select to hookledger_auditor using (true);
create policy auditor_read on hookledger.ingress_routes for select to hookledger_auditor using (true);
create policy auditor_read on hookledger.pull_queues for select to hookledger_auditor using (true);
create policy auditor_read on hookledger.pull_messages for select to hookledger_auditor using (true);
grant select (org_id, route_id, reason, count, last_rejected_at) on hookledger.ingress_rejections to hookledger_auditor;
grant select (org_id, route_id, name) on hookledger.ingress_routes to hookledger_auditor;
grant select (org_id, queue) on hookledger.pull_queues to hookledger_auditor;
grant select (org_id, queue, message_id, state, visible_at, enqueued_at) on hookledger.pull_messages to hookledger_auditor;
grant select on hookledger.pull_queue_stats to hookledger_auditor;
