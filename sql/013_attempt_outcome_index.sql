-- History filtered by outcome (e.g. a subscription's failed attempts) walked the subscription's whole history
-- when it had few failures: measured 79 ms and 5,292 buffers at 1M attempts. Lead with the filter's columns.
create index delivery_attempts_outcome_idx
  on hookledger.delivery_attempts (org_id, subscription_id, outcome, attempted_at desc, attempt_id desc);
