-- API processes cache authenticated tokens; a change to a token row (revocation, deletion with its organization
-- or application, scope change by a rebuild) is announced on this channel so every process drops its copy
-- within the notification's delivery time instead of a cache TTL. The payload is the token hash (hex), which
-- is what the caches are keyed by; it reveals nothing a listener could not already hash itself.
create function hookledger_private.notify_token_change() returns trigger
language plpgsql as $$
begin
  perform pg_notify('hookledger_token_changed', encode(coalesce(new.token_hash, old.token_hash), 'hex'));
  return null;
end
$$;

create trigger api_tokens_notify_change
  after update or delete on hookledger.api_tokens
  for each row execute function hookledger_private.notify_token_change();
comment on function hookledger_private.notify_token_change() is
  'Announces a changed or removed API token (hash, hex) on channel hookledger_token_changed for the processes'' token caches.';
