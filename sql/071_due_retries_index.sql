-- The index the retry promoter reads holds retries only.
--
-- Why: it held every pending delivery too, so each new delivery paid an entry in it (one of five per delivery row)
-- for a reader that never looks at them: promote_retries (outbound/promoteRetriesTask.ts) asks for
-- `status = 'retrying'` in literal form, which this predicate proves. A fresh delivery has its job from the moment
-- it is scheduled and is found by it, never by this index.
-- Building it reads the deliveries table once, while writes to it wait (migrations run before the service starts;
-- on a large installation expect a few seconds per million rows).

drop index hookledger.deliveries_due_idx;
create index deliveries_due_idx on hookledger.deliveries (org_id, next_attempt_at) where status = 'retrying';
