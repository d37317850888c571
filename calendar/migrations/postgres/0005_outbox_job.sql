-- The id notifications gave an invitation's job when it accepted it (its `202` body's `id`),
-- so the event page can link each invitation to its job there. Empty for rows delivered
-- before this column existed and while a row is pending.
ALTER TABLE outbox ADD COLUMN job_id TEXT;
