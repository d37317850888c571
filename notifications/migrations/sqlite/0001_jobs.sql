-- Notification jobs: the durable queue. Timestamps are epoch milliseconds.
CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,      -- insertion order: list order and cursor
    id TEXT NOT NULL UNIQUE,                    -- UUIDv7
    idempotency_key TEXT UNIQUE,                -- Idempotency-Key header, when given
    recipients TEXT NOT NULL,                   -- JSON array of addresses
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    message_id TEXT NOT NULL,                   -- Message-ID header, the same on every attempt
    status TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,         -- claims so far (each claim is one attempt)
    last_error TEXT,
    next_attempt_at BIGINT NOT NULL,            -- queued: not before this time
    lease_token TEXT,                           -- sending: which claim owns the job
    lease_expires_at BIGINT,                    -- sending: reclaimable after this time
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX jobs_due ON jobs (status, next_attempt_at);
CREATE INDEX jobs_lease ON jobs (status, lease_expires_at);
CREATE INDEX jobs_status_seq ON jobs (status, seq);

-- Mailbox mode (no SMTP_URL): the rendered message, stored instead of sent.
CREATE TABLE mailbox (
    job_id TEXT PRIMARY KEY REFERENCES jobs (id),
    raw TEXT NOT NULL,                          -- the full RFC 5322 message
    stored_at BIGINT NOT NULL
);
CREATE INDEX mailbox_stored_at ON mailbox (stored_at);
