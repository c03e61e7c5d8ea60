-- Queue-scoped tokens: a consumer behind a firewall gets a token that can pull from named queues only.
alter table hookledger.api_tokens add column queues text[];
comment on column hookledger.api_tokens.queues is 'Pull queues this token may use (NULL = every queue of the organization its scopes allow).';
grant select (queues) on hookledger.api_tokens to hookledger_authenticator;
