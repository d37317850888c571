-- Idempotency keys are scoped per caller: `idempotency_key` holds "<caller id> <key>" (the
-- caller id of service_kit::auth, the key as sent), so one client's key never replays another
-- client's job. Keys stored before had no caller; they are kept under the scope "unscoped",
-- which no caller has, and leave with their jobs (RETENTION_DAYS).
UPDATE jobs SET idempotency_key = 'unscoped ' || idempotency_key WHERE idempotency_key IS NOT NULL;
