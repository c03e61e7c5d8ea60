-- An index for `GET /v1/events?channel=`: the organization's events that carry channels, in the list's order.
--
-- Why: the filter (outbound/deliveryStore.ts, `$1 = any(channels)`) walked events_list_idx through every event of
-- the organization, most of which carry no channels, until it had a page (or to the end when the channel is rare or
-- unknown). This index holds events with channels only, so the walk skips those without; its predicate is proved
-- by the filter itself (`= any` is strict: a null array never matches), under a generic plan too.
--
-- Why not GIN on channels: under row-level security the service role's own conditions may drive an index only when
-- their operators are leakproof (DESIGN.md, known traps), and the array operators GIN serves (@>, &&) are not, nor
-- can a non-superuser owner mark a wrapper leakproof. Measured as hookledger_app on 300k events of one organization
-- (1 in 20 with channels): a partial GIN index was never used for `channels @> array[$1]` (the walk went on through
-- events_list_idx, 50,009 rows filtered for a page of 51), or read whole as a bitmap of every organization's
-- channelled events. This index read 2,452 rows for the same page.
--
-- What it costs: nothing for an event without channels (a partial index takes no entry for a row its predicate
-- refuses; ingest, where most events have none, writes what it did); one btree entry for an event with channels.
-- Building it reads the events table once, while writes to it wait (migrations run before the service starts; on a
-- large installation expect a few seconds per million rows).

create index events_channels_list_idx on hookledger.events (org_id, received_at desc, event_id desc)
  where channels is not null;
comment on index hookledger.events_channels_list_idx is
  'Events that carry channels, in the events list''s order: GET /v1/events?channel= walks these only (sql/095).';
