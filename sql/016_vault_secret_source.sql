-- Ingress route secrets may come from a HashiCorp Vault KV reference (vault:path#key), resolved once when added.
alter table hookledger.ingress_route_secrets drop constraint ingress_route_secrets_source_check;
alter table hookledger.ingress_route_secrets
  add constraint ingress_route_secrets_source_check check (source in ('value', 'generated', 'env', 'file', 'vault', 'raw'));
comment on column hookledger.ingress_route_secrets.source is 'Where the value came from: given in the API, generated, or resolved once from an env:/file:/vault:/raw: reference.';
