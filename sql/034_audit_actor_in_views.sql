-- The audit log shows who acted beyond the token: the X-Audit-Actor a mutation carried and the verified client
-- certificate subject of its connection (mutual TLS), both recorded in the entry meta (issue 14).
create or replace view hookledger_audit.audit_log with (security_invoker = true) as
select l.recorded_at,
       l.org_id,
       l.actor_kind,
       l.actor_id,
       l.meta -> 'actor' ->> 'label' as actor_label,
       l.type,
       l.stream,
       l.redacted_data               as data,
       l.meta ->> 'reason'           as reason,
       l.meta ->> 'ip'               as ip,
       l.meta ->> 'user_agent'       as user_agent,
       l.meta ->> 'request_id'       as request_id,
       l.position,
       l.meta ->> 'audit_actor'         as audit_actor,
       l.meta ->> 'connection_identity' as connection_identity
from hookledger.ledger l
where l.actor_kind in ('token', 'instance_admin');
comment on column hookledger_audit.audit_log.audit_actor is 'Who, as the caller named them: the X-Audit-Actor header of the mutation (required when HOOKLEDGER_PUBLISH_REQUIRE_ACTOR is on).';
comment on column hookledger_audit.audit_log.connection_identity is 'Who, as mutual TLS proved it: the subject of the verified client certificate of the connection, when the listener asked for one.';
