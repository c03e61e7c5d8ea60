-- The status and outcome indexes hold only what is not a success.
--
-- Why: most deliveries succeed, and every success paid an entry in each of these two indexes — a delivery's
-- status index entry is rewritten when it succeeds (status is indexed, so that update is never heap-only), and each
-- successful attempt added one to the outcome index — for queries that look for the rare rows: a subscription's
-- failed, cancelled, pending or retrying deliveries, its failed or aborted attempts. Lists of successes read the
-- subscription's history index and filter, where most rows match anyway. The queries that use these indexes say
-- `status <> 'succeeded'` / `outcome <> 'succeeded'` in literal form (deliveryStore.ts), so a generic plan, with the
-- filter as a parameter, still proves the index applies.
-- Building the new indexes reads each table once, while writes to it wait (migrations run before the service
-- starts; on a large installation expect a few seconds per million rows).

drop index hookledger.deliveries_status_idx;
create index deliveries_unsucceeded_idx on hookledger.deliveries (org_id, subscription_id, status, created_at)
  where status <> 'succeeded';

drop index hookledger.delivery_attempts_outcome_idx;
create index delivery_attempts_unsucceeded_idx
  on hookledger.delivery_attempts (org_id, subscription_id, outcome, attempted_at desc, attempt_id desc)
  where outcome <> 'succeeded';
