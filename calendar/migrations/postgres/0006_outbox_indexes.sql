-- The event page lists an event's invitations, and a contact's change of address, removal or
-- deletion finds that person's undelivered ones: without these, each of those reads every row
-- the outbox has ever held (delivered rows are kept).
CREATE INDEX outbox_event ON outbox (event_id);
CREATE INDEX outbox_user_status ON outbox (user_id, status);
