-- Manual publish (POST /v1/ingress-routes/{route_id}/publish): a route may refuse it whatever the instance's policy
-- allows. Routes recorded before this column existed allow it, as an ingress_route entry without the field does.

alter table hookledger.ingress_routes add column manual_publish boolean not null default true;
comment on column hookledger.ingress_routes.manual_publish is 'Whether token holders may publish to this route by hand (POST /v1/ingress-routes/{route_id}/publish), subject to the instance''s HOOKLEDGER_PUBLISH_* policy; false refuses it with 403 (rule route_publish_disabled).';
