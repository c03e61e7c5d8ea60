-- The functions on the hot path plan their statements once per session instead of on every call, as
-- append_entries has since sql/075: ingest_batch (POST /v1/events), receive_batch (POST /in/...), and the worker's
-- deliveries_to_attempt, subscriptions_to_attempt, record_successes and insert_deliver_jobs.
--
-- Why: each of them runs statements built on the call's arrays (unnest, jsonb_array_elements, `= any(...)`). With a
-- custom plan the planner knows an array's length and estimates a handful of rows; a generic plan assumes the
-- defaults (10 or 100 rows), so its estimated cost is always the higher and PostgreSQL's plan cache, which compares
-- the two, kept choosing a custom plan: every call planned its statements again. Counted with callgrind (a
-- single-user backend on a fresh copy of one cluster, each call its own transaction, so repeatable whatever else the
-- machine does):
-- - ingest_batch, 60 calls of 6 events: 4.87 M instructions a call, 4.35 M with this setting (-11%); ~0.65 M of it
--   was planning (the ingest statement and insert_fanout_jobs's two, 1.9 plans a call). With 1 and 16 events a call:
--   2.49 M and 8.04 M, so ~2.1 M a flush whatever its size and ~0.37 M an event.
-- - the worker's load, 40 pairs of deliveries_to_attempt and subscriptions_to_attempt for one delivery: 94 plans
--   built, 4 with this setting, and 2.8 M instructions a pair less (half of the whole run's count).
-- - record_successes, 40 calls of one success each: 0.72 M instructions a call less.
-- The plans are the same shapes either way, since the statements read and write by primary key or by array
-- (`= any`, lateral lookups with `limit 1`, as sql/072 and sql/085 wrote them so that a plan made once holds for any
-- batch); test/db/hotPathPlans.test.ts checks the worker's under a generic plan as the service role.
--
-- The setting holds for the function's own statements and for what they call while it runs (insert_fanout_jobs,
-- events_today), and the caller's setting is restored after. A later `create or replace` of any of these functions
-- must repeat it: replacing a function drops its SET clauses.

alter function hookledger.ingest_batch(uuid, bigint, bigint, date, integer, integer, text[], integer[], jsonb, integer, integer, integer)
  set plan_cache_mode = force_generic_plan;
alter function hookledger.receive_batch(uuid, timestamptz, text[], text[], timestamptz[], integer, text[], integer[], jsonb, jsonb)
  set plan_cache_mode = force_generic_plan;
alter function hookledger.deliveries_to_attempt(uuid, uuid[]) set plan_cache_mode = force_generic_plan;
alter function hookledger.subscriptions_to_attempt(uuid, uuid[], timestamptz) set plan_cache_mode = force_generic_plan;
alter function hookledger.record_successes(uuid, text[], integer[], jsonb) set plan_cache_mode = force_generic_plan;
alter function hookledger.insert_deliver_jobs(jsonb) set plan_cache_mode = force_generic_plan;
