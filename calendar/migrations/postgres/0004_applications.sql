-- How many feed entries have been applied, counted in the transaction that wrote each entry's
-- changes; the checkpoint's `applied` counts the entries it has moved past (parked and skipped
-- ones included). Beyond the parked and skipped entries the two differ only if an entry was
-- applied twice. Existing databases start from the checkpoint's count less the parked entries.
ALTER TABLE feed_checkpoint ADD COLUMN applications BIGINT NOT NULL DEFAULT 0;
UPDATE feed_checkpoint SET applications = applied - (SELECT COUNT(*) FROM feed_parked);
