-- Recording received webhooks in one statement per batch (the inbound twin of sql/031).
--
-- Why: a batch of verified receipts was a transaction of six round trips (set tenant, nonces, purge, append,
-- projections, publish jobs, commit). hookledger.receive_batch writes it in autocommit with one call. A batch with
-- a replayed nonce is refused (SQLSTATE HL425) and the transactional path sorts replays from first sightings.

-- The ingress.received and pull.message_enqueued projections as functions, so the TypeScript projections (live
-- and rebuild) and receive_batch run the same statements. Rows: the entry data plus org_id and `at`.
create function hookledger.project_ingress_receipts(p_rows jsonb) returns void
language sql as $$
  insert into hookledger.ingress_receipts (org_id, receipt_id, route_id, content_type, headers, body, body_sha256, verification, received_at)
  select org_id, receipt_id, route_id, content_type, headers, decode(body_base64, 'base64'), body_sha256, verification, at
  from jsonb_to_recordset(p_rows) as r(
    org_id uuid, receipt_id text, route_id text, content_type text, headers jsonb, body_base64 text, body_sha256 text,
    verification jsonb, at timestamptz)
$$;

create function hookledger.project_pull_messages_enqueued(p_rows jsonb) returns void
language sql as $$
  insert into hookledger.pull_messages (org_id, message_id, queue, receipt_id, state, visible_at, enqueued_at, updated_at)
  select org_id, message_id, queue, receipt_id, 'ready', at, at, at
  from jsonb_to_recordset(p_rows) as r(org_id uuid, message_id uuid, queue text, receipt_id text, at timestamptz)
$$;

revoke all on function hookledger.project_ingress_receipts(jsonb), hookledger.project_pull_messages_enqueued(jsonb) from public;
grant execute on function hookledger.project_ingress_receipts(jsonb), hookledger.project_pull_messages_enqueued(jsonb) to hookledger_app;

-- Publish jobs of new receipts (task ingress_publish, keyed by receipt as add_jobs would key them), without
-- add_jobs' notification; see insert_deliver_jobs in sql/031 for why.
create function hookledger.insert_publish_jobs(p_jobs jsonb) returns integer
language plpgsql security definer set search_path = pg_catalog, pg_temp
as $$
declare
  added integer;
begin
  if hookledger.current_org_id() is null then
    raise exception 'insert_publish_jobs: no tenant set for this transaction' using errcode = '42501';
  end if;
  if exists (
    select from jsonb_array_elements(p_jobs) j
    where j->>'identifier' is distinct from 'ingress_publish' or j ? 'queue_name'
       or j->'payload'->>'org_id' is distinct from hookledger.current_org_id()::text
       or j->>'job_key' is distinct from 'ingress_publish:' || (j->'payload'->>'receipt_id')
  ) then
    raise exception 'insert_publish_jobs: only ingress_publish jobs of this transaction''s organization, keyed by receipt' using errcode = '42501';
  end if;
  insert into graphile_worker._private_tasks (identifier) values ('ingress_publish') on conflict do nothing;
  insert into graphile_worker._private_jobs (task_id, payload, run_at, max_attempts, key)
  select t.id, (j->'payload')::json, now(), (j->>'max_attempts')::smallint, j->>'job_key'
  from jsonb_array_elements(p_jobs) with ordinality as x(j, o)
  cross join graphile_worker._private_tasks t
  where t.identifier = 'ingress_publish'
  order by o;
  get diagnostics added = row_count;
  return added;
end
$$;
revoke all on function hookledger.insert_publish_jobs(jsonb) from public;
grant execute on function hookledger.insert_publish_jobs(jsonb) to hookledger_app;

-- One batch of verified receipts: their nonces (every one new or expired, else HL425), a purge of expired nonces
-- of the same routes, the entries (ingress.received, pull.message_enqueued, on new streams), their projection
-- rows and the publish jobs, in the one transaction of this statement. Runs as the caller with the tenant set here.
create function hookledger.receive_batch(
  p_org_id uuid, p_now timestamptz, p_nonce_routes text[], p_nonce_hashes text[], p_nonce_expiries timestamptz[], p_purge integer,
  p_streams text[], p_counts integer[], p_entries jsonb, p_publish_jobs jsonb)
returns void
language plpgsql as $$
declare
  fresh integer;
begin
  perform set_config('hookledger.org_id', p_org_id::text, true);
  if cardinality(p_nonce_hashes) > 0 then
    with claimed as (
      insert into hookledger.ingress_nonces as n (org_id, route_id, nonce_hash, expires_at)
      select p_org_id, r.route_id, r.nonce_hash, r.expires_at
      from unnest(p_nonce_routes, p_nonce_hashes, p_nonce_expiries) as r(route_id, nonce_hash, expires_at)
      on conflict (org_id, route_id, nonce_hash) do update set expires_at = excluded.expires_at
        where n.expires_at <= p_now
      returning 1
    )
    select count(*) into fresh from claimed;
    if fresh < cardinality(p_nonce_hashes) then
      raise exception 'a nonce of the batch was seen before' using errcode = 'HL425';
    end if;
    delete from hookledger.ingress_nonces
    where ctid in (
      select ctid from hookledger.ingress_nonces
      where org_id = p_org_id and route_id = any(p_nonce_routes) and expires_at <= p_now
      limit p_purge for update skip locked);
  end if;
  perform from hookledger.append_entries(p_streams, array_fill(0, array[cardinality(p_streams)]), p_counts, p_entries);
  perform hookledger.project_ingress_receipts(hookledger.entry_rows(p_entries, p_org_id, 'ingress.received'));
  perform hookledger.project_pull_messages_enqueued(hookledger.entry_rows(p_entries, p_org_id, 'pull.message_enqueued'));
  if jsonb_array_length(p_publish_jobs) > 0 then
    perform hookledger.insert_publish_jobs(p_publish_jobs);
  end if;
end
$$;
revoke all on function hookledger.receive_batch(uuid, timestamptz, text[], text[], timestamptz[], integer, text[], integer[], jsonb, jsonb) from public;
grant execute on function hookledger.receive_batch(uuid, timestamptz, text[], text[], timestamptz[], integer, text[], integer[], jsonb, jsonb) to hookledger_app;
comment on function hookledger.receive_batch(uuid, timestamptz, text[], text[], timestamptz[], integer, text[], integer[], jsonb, jsonb) is
  'Records a batch of verified webhook receipts (nonces, entries, projections, publish jobs) in one statement; see sql/033.';
