-- Feeds without sequence numbers: the checkpoint also names the last applied entry (its Atom
-- id) and counts the entries applied, so a restarted follower finds its place by entry id.
ALTER TABLE feed_checkpoint ADD COLUMN entry_id TEXT NOT NULL DEFAULT '';
ALTER TABLE feed_checkpoint ADD COLUMN applied BIGINT NOT NULL DEFAULT 0;
UPDATE feed_checkpoint SET applied = sequence;

-- Entries the follower could not apply, parked in the transaction that moved the checkpoint
-- past them, until an operator retries them or a later event for the contact recovers it.
CREATE TABLE feed_parked (
    id TEXT PRIMARY KEY,
    entry_id TEXT NOT NULL,
    sequence BIGINT,
    kind TEXT NOT NULL,
    contact_id TEXT,
    contact_url TEXT,
    content TEXT NOT NULL,
    reason TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    parked_at BIGINT NOT NULL,
    resolved_at BIGINT,
    resolution TEXT
);
CREATE INDEX feed_parked_contact ON feed_parked (contact_id, resolved_at);
CREATE INDEX feed_parked_open ON feed_parked (resolved_at, parked_at);
