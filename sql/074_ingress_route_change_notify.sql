-- API processes cache ingress routes with their decrypted secrets (inbound/routeCache.ts), so receiving a webhook
-- reads nothing but the body. A change to a route or to one of its secrets (disabled, deleted, auth or queue
-- changed, a secret added, its window changed, removed; also through a rebuild or a deleted organization) is
-- announced on this channel so every process drops its copy within the notification's delivery time. The payload
-- is `org_id/route_id`, the cache's key; `*` (a truncate) drops every route. Route ids are public (they are in the
-- receive URL) and no secret is in the payload.
create function hookledger_private.notify_ingress_route_change() returns trigger
language plpgsql as $$
begin
  if tg_level = 'STATEMENT' then
    perform pg_notify('hookledger_ingress_route_changed', '*');
  else
    perform pg_notify('hookledger_ingress_route_changed', coalesce(new.org_id, old.org_id)::text || '/' || coalesce(new.route_id, old.route_id));
  end if;
  return null;
end
$$;
comment on function hookledger_private.notify_ingress_route_change() is
  'Announces a changed ingress route or route secret (org_id/route_id, or * for a truncate) on channel hookledger_ingress_route_changed for the processes'' route caches.';

create trigger ingress_routes_notify_change
  after insert or update or delete on hookledger.ingress_routes
  for each row execute function hookledger_private.notify_ingress_route_change();
create trigger ingress_routes_notify_truncate
  after truncate on hookledger.ingress_routes
  for each statement execute function hookledger_private.notify_ingress_route_change();
create trigger ingress_route_secrets_notify_change
  after insert or update or delete on hookledger.ingress_route_secrets
  for each row execute function hookledger_private.notify_ingress_route_change();
create trigger ingress_route_secrets_notify_truncate
  after truncate on hookledger.ingress_route_secrets
  for each statement execute function hookledger_private.notify_ingress_route_change();
