-- The worker's attempt load reads the subscriptions it sends to column by column (subscriptions_to_attempt), not as
-- the table's whole row (subscriptions_of_deliveries, sql/068 and sql/072).
--
-- Why: a whole row of hookledger.subscriptions holds its virtual url_for_audit column (sql/094), and PostgreSQL
-- computes a virtual column whenever it forms the row, so every load ran the auditors' URL rule (a dozen regular
-- expressions) on each subscription the batch sends to, for a value no one reads there. As a virtual column the
-- rule costs ~23 µs a URL (10,000 short URLs: 222–240 ms); in the full bench of 2026-12-06 02:00 UTC the load of
-- scenario 7 took 2.12 ms a call against 1.08 ms in the run before sql/094. This function returns the columns the
-- worker reads (outbound/subscriptionStore.ts, subscriptionColumns), the deleted flag and the unexpired signing
-- secrets, under row-level security with the tenant set for this statement, as its predecessor did.
--
-- subscriptions_of_deliveries stays, unchanged, for a worker of the previous version still running during a rolling
-- upgrade; a later migration may drop it.

create function hookledger.subscriptions_to_attempt(p_org_id uuid, p_delivery_ids uuid[], p_now timestamptz)
returns table (
  subscription_id uuid, app_id uuid, url text, event_types text[], labels jsonb, channels text[], headers jsonb,
  sealed_headers jsonb, description text, metadata jsonb, enabled boolean, disabled_reason text, signature_scheme text,
  signed_headers text[], retry_schedule double precision[], max_attempts integer, timeout_ms integer,
  consecutive_failures integer, failing_since timestamptz, last_success_at timestamptz, last_failure_at timestamptz,
  auto_disabled_at timestamptz, max_concurrency integer, rate_limit_per_second double precision, send_traceparent boolean,
  circuit_state text, circuit_opened_at timestamptz, circuit_retry_at timestamptz, circuit_opens integer,
  created_at timestamptz, updated_at timestamptz, deleted boolean, encrypted_secrets jsonb)
language plpgsql as $$
begin
  perform set_config('hookledger.org_id', p_org_id::text, true);
  return query
    select s.subscription_id, s.app_id, s.url, s.event_types, s.labels, s.channels, s.headers, s.sealed_headers,
      s.description, s.metadata, s.enabled, s.disabled_reason, s.signature_scheme, s.signed_headers, s.retry_schedule,
      s.max_attempts, s.timeout_ms, s.consecutive_failures, s.failing_since, s.last_success_at, s.last_failure_at,
      s.auto_disabled_at, s.max_concurrency, s.rate_limit_per_second, s.send_traceparent, s.circuit_state,
      s.circuit_opened_at, s.circuit_retry_at, s.circuit_opens, s.created_at, s.updated_at, s.deleted_at is not null,
      coalesce((
        select jsonb_agg(jsonb_build_object('key_id', k.key_id, 'ciphertext', k.ciphertext, 'expires_at', k.expires_at) order by k.created_at desc)
        from hookledger.subscription_secrets k
        where k.org_id = p_org_id and k.subscription_id = s.subscription_id and (k.expires_at is null or k.expires_at > p_now)
      ), '[]'::jsonb)
    from hookledger.subscriptions s
    where s.org_id = p_org_id
      and s.subscription_id = any(array(
        select distinct d.subscription_id
        from unnest(p_delivery_ids) as wanted(id)
        cross join lateral (
          select dd.subscription_id from hookledger.deliveries dd where dd.org_id = p_org_id and dd.delivery_id = wanted.id limit 1
        ) d
      ));
end
$$;
comment on function hookledger.subscriptions_to_attempt(uuid, uuid[], timestamptz) is
  'The subscriptions a batch of one organization''s deliveries is sent to, the columns the worker reads (not the whole row, whose virtual url_for_audit would be computed), with their unexpired signing secrets, under row-level security with the tenant set for this statement (sql/097).';
revoke all on function hookledger.subscriptions_to_attempt(uuid, uuid[], timestamptz) from public;
grant execute on function hookledger.subscriptions_to_attempt(uuid, uuid[], timestamptz) to hookledger_app;
