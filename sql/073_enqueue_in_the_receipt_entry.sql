-- A received webhook's pull message is recorded in the receipt's own entry.
--
-- Why: a receipt for a route that feeds a pull queue appended two entries on two new streams (ingress.received,
-- then pull.message_enqueued on the message's stream): per receipt a second ledger row with its indexes and a second
-- stream row, for a fact decided with the receipt in the same transaction. `ingress.received` now names the message
-- it enqueued (data.message_id, with data.queue), the pull_messages projection writes its row from it, and a
-- message's stream begins with its first lease (leases append at any version). `pull.message_enqueued` stays for
-- entries recorded before; both project into the same rows. The same change as sql/070 for events.

-- Rows: ingress.received entry rows (data plus org_id and `at`); those without a message_id enqueued nothing.
create function hookledger.project_pull_messages_received(p_rows jsonb) returns void
language sql as $$
  insert into hookledger.pull_messages (org_id, message_id, queue, receipt_id, state, visible_at, enqueued_at, updated_at)
  select org_id, message_id, queue, receipt_id, 'ready', at, at, at
  from jsonb_to_recordset(p_rows) as r(org_id uuid, message_id uuid, queue text, receipt_id text, at timestamptz)
  where message_id is not null
$$;
revoke all on function hookledger.project_pull_messages_received(jsonb) from public;
grant execute on function hookledger.project_pull_messages_received(jsonb) to hookledger_app;

-- As in sql/033, with the pull messages projected from the receipt entries, built once for both projections. A
-- batch from a process started before this migration still carries pull.message_enqueued entries (a rolling
-- upgrade): those are projected as before.
create or replace function hookledger.receive_batch(
  p_org_id uuid, p_now timestamptz, p_nonce_routes text[], p_nonce_hashes text[], p_nonce_expiries timestamptz[], p_purge integer,
  p_streams text[], p_counts integer[], p_entries jsonb, p_publish_jobs jsonb)
returns void
language plpgsql as $$
declare
  fresh integer;
  received jsonb;
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
  received := hookledger.entry_rows(p_entries, p_org_id, 'ingress.received');
  perform hookledger.project_ingress_receipts(received);
  perform hookledger.project_pull_messages_received(received);
  if jsonb_path_exists(p_entries, '$[*] ? (@.type == "pull.message_enqueued")') then
    perform hookledger.project_pull_messages_enqueued(hookledger.entry_rows(p_entries, p_org_id, 'pull.message_enqueued'));
  end if;
  if jsonb_array_length(p_publish_jobs) > 0 then
    perform hookledger.insert_publish_jobs(p_publish_jobs);
  end if;
end
$$;
