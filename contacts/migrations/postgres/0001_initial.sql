-- The read model: one row per live contact, rewritten in the transaction that appends its event.
CREATE TABLE contacts (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    firstname TEXT NOT NULL,
    lastname TEXT NOT NULL,
    email TEXT NOT NULL,
    -- lower-cased email: addresses differing only in case are the same person
    email_key TEXT NOT NULL UNIQUE,
    -- lower-cased "lastname firstname", the listing order; byte order as on SQLite
    sort_key TEXT COLLATE "C" NOT NULL,
    -- lower-cased names and email, what ?q= searches
    search_text TEXT NOT NULL
);
CREATE INDEX contacts_by_name ON contacts (sort_key, id);

-- The source of truth: every change as an event. `sequence` is gap-free and in commit order.
CREATE TABLE contact_events (
    sequence BIGINT PRIMARY KEY NOT NULL,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    data TEXT NOT NULL
);

-- One row: the last sequence handed out and the number of live contacts. Every write
-- transaction increments it; the row lock serialises writers until commit (so commit order is
-- sequence order) and a rolled-back transaction leaves no gap.
CREATE TABLE event_counter (
    id BIGINT PRIMARY KEY NOT NULL,
    last_sequence BIGINT NOT NULL,
    contact_count BIGINT NOT NULL
);
INSERT INTO event_counter (id, last_sequence, contact_count) VALUES (1, 0, 0);
