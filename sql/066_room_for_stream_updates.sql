-- Room on each page of ledger_streams for the update every append makes to its stream's row.
--
-- Why: a stream's row is written when the stream starts and updated (version, updated_at; neither indexed) by every
-- later append, e.g. each recorded delivery attempt. On full pages (the default fillfactor of 100, and streams are
-- inserted in bulk at ingestion) the new row version lands on another page, so the update also inserts a new
-- primary-key entry. With room left on the page the update is a heap-only tuple (HOT) update: no index entry,
-- less WAL. New pages follow the setting; existing ones as they are rewritten.
alter table hookledger.ledger_streams set (fillfactor = 70);
