-- Loading the routes and verification secrets of a batch of received webhooks without a transaction.
--
-- Why: each batch opened a read transaction (begin, set tenant, routes, secrets, commit): three round trips, and
-- the session sat `idle in transaction` while the API process, busy verifying signatures, came back to commit
-- (0.33 to 0.71 sessions on average in the ingress bench). These functions set the tenant for their own statement
-- and read under row-level security as the caller, so the two reads are two autocommit statements sent together:
-- one round trip, no transaction left open. Rows are the tables' own, so the caller maps them as before.

create function hookledger.ingress_routes_of(p_org_id uuid, p_route_ids text[]) returns setof hookledger.ingress_routes
language plpgsql as $$
begin
  perform set_config('hookledger.org_id', p_org_id::text, true);
  return query
    select * from hookledger.ingress_routes r
    where r.org_id = p_org_id and r.route_id = any(p_route_ids) and r.deleted_at is null;
end
$$;
comment on function hookledger.ingress_routes_of(uuid, text[]) is
  'The live ingress routes of one organization among the ids given, read under row-level security with the tenant set for this statement (a receive batch''s route load, no transaction).';

create function hookledger.ingress_route_secrets_of(p_org_id uuid, p_route_ids text[], p_ended_after timestamptz) returns setof hookledger.ingress_route_secrets
language plpgsql as $$
begin
  perform set_config('hookledger.org_id', p_org_id::text, true);
  return query
    select * from hookledger.ingress_route_secrets s
    where s.org_id = p_org_id and s.route_id = any(p_route_ids) and (s.valid_until is null or s.valid_until > p_ended_after)
    order by s.valid_from desc;
end
$$;
comment on function hookledger.ingress_route_secrets_of(uuid, text[], timestamptz) is
  'Verification secrets of one organization''s routes not ended before the given time (the caller narrows each route to its own tolerance), read under row-level security with the tenant set for this statement.';

revoke all on function hookledger.ingress_routes_of(uuid, text[]), hookledger.ingress_route_secrets_of(uuid, text[], timestamptz) from public;
grant execute on function hookledger.ingress_routes_of(uuid, text[]), hookledger.ingress_route_secrets_of(uuid, text[], timestamptz) to hookledger_app;
