-- The users replica, built only from the contacts feed.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    email_lower TEXT NOT NULL,
    firstname TEXT NOT NULL,
    lastname TEXT NOT NULL,
    contact_url TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX users_email_lower ON users (email_lower);

-- The feed follower's position: the last applied sequence, written in the same transaction as
-- the changes it stands for.
CREATE TABLE feed_checkpoint (
    id BIGINT PRIMARY KEY,
    sequence BIGINT NOT NULL,
    event_timestamp BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
INSERT INTO feed_checkpoint (id, sequence, event_timestamp, updated_at) VALUES (1, 0, 0, 0);

CREATE TABLE events (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT,
    location TEXT,
    all_day BIGINT NOT NULL,
    start_date TEXT,
    start_at BIGINT NOT NULL,
    end_at BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX events_owner_start ON events (owner_id, start_at, id);

CREATE TABLE participants (
    event_id TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (event_id, user_id)
);
CREATE INDEX participants_user ON participants (user_id);

-- Notification jobs, written with the participants they announce; drained by the dispatcher.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    email TEXT NOT NULL,
    subject TEXT NOT NULL,
    message TEXT NOT NULL,
    request_id TEXT,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
