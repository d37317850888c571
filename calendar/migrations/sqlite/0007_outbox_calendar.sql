-- An invitation's iMIP part (RFC 6047): the iCalendar `METHOD:REQUEST` the mail carries beside
-- its text, so a mail client offers to accept or decline. Empty for rows written before this
-- column existed, for events without a known organizer, and for rows readdressed after a change
-- of e-mail address (the part named the old address).
ALTER TABLE outbox ADD COLUMN calendar TEXT;
