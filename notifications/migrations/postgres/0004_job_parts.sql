-- A job's alternative renderings and attachments (the request's `attachments`, checked): a
-- JSON array, empty (NULL) for jobs with the plain-text message only, as every job before.
ALTER TABLE jobs ADD COLUMN parts TEXT;
