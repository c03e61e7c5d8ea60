-- Operational webhooks and delivery control by the receiver.

-- Each organization may have one operational application: hookledger publishes events about the organization's
-- own endpoints to it (endpoint.failing, delivery.exhausted…), and the tenant subscribes to it like to any other.
alter table hookledger.applications add column operational boolean not null default false;
comment on column hookledger.applications.operational is
  'True for the organization''s operational application: hookledger publishes events about the organization''s endpoints and deliveries to it; producers cannot.';
create unique index applications_operational_idx on hookledger.applications (org_id) where operational and deleted_at is null;
grant select (operational) on hookledger.applications to hookledger_auditor;

-- A receiver answering `webhook-delivery: abort-message` ends its delivery: the attempt's outcome is aborted
-- (neither a success nor a failure for endpoint health) and the delivery's status is aborted (terminal).
alter table hookledger.delivery_attempts drop constraint delivery_attempts_outcome_check;
alter table hookledger.delivery_attempts add constraint delivery_attempts_outcome_check check (outcome in ('succeeded', 'failed', 'aborted'));
alter table hookledger.deliveries drop constraint deliveries_status_check;
alter table hookledger.deliveries add constraint deliveries_status_check check (status in ('pending', 'retrying', 'succeeded', 'failed', 'cancelled', 'aborted'));
comment on table hookledger.deliveries is
  'One row per (event, subscription) delivery, with its current state: pending, retrying, succeeded, failed (dead), cancelled or aborted (the receiver asked to stop).';

comment on column hookledger_audit.delivery_history.outcome is
  'succeeded (2xx answer), failed, or aborted (the receiver answered webhook-delivery: abort-message: no retry, not counted against the endpoint).';
comment on column hookledger_audit.delivery_history.delivery_status is
  'Current state of the whole delivery: pending, retrying, succeeded, failed (attempts exhausted), cancelled, or aborted (the receiver asked to stop).';
