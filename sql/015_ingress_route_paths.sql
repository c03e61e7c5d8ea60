-- Custom receive paths: besides POST /in/{route_id}, a route may be reached at POST /in/{org_id}/{path}, a stable
-- URL the tenant chooses, which survives deleting and recreating the route behind it.
--
-- The path is unique among the organization's live routes only: a deleted route keeps its path for history but
-- frees it, and another organization may use the same path (its org_id is in the URL).

alter table hookledger.ingress_routes add column path text
  check (char_length(path) between 1 and 200
         and path ~ '^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$'
         and path !~ '(^|/)\.\.?(/|$)');
comment on column hookledger.ingress_routes.path is 'Custom receive path chosen by the tenant (POST /in/{org_id}/{path}), unique among the organization''s undeleted routes; NULL when the route is reached by its id only.';
comment on table hookledger.ingress_routes is 'Public receive endpoints (POST /in/{route_id}, and POST /in/{org_id}/{path} when a path is set): how requests are authenticated and where accepted ones go. Projection of ingress_route.* entries.';

-- Enforces uniqueness and serves the receive lookup (org_id, path) before the tenant is set. inbound/ingressRoutes.ts
-- turns a violation of it into a 409 naming the field, so keep the name in step with ROUTE_PATH_INDEX there.
create unique index ingress_routes_path_idx on hookledger.ingress_routes (org_id, path) where deleted_at is null and path is not null;

-- The receive endpoint finds a route by (org_id, path) as hookledger_authenticator, like it finds one by route_id.
grant select (path) on hookledger.ingress_routes to hookledger_authenticator;
