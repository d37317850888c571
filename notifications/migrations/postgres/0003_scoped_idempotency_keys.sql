-- Idempotency keys are scoped per caller: `idempotency_key` holds "<caller id> <key>" (the
-- caller id of service_kit::auth, the key as sent), so one client's key never replays another
-- client's job. Keys stored before had no caller; they are kept under the scope "unscoped",
-- which no caller has, and leave with their jobs (RETENTION_DAYS). A key as sent has no space,
-- so a key with one is already scoped (this migration shipped unregistered for a while, during
-- which new keys were stored scoped) and stays as it is.
UPDATE jobs SET idempotency_key = 'unscoped ' || idempotency_key
WHERE idempotency_key IS NOT NULL AND idempotency_key NOT LIKE '% %';
