//! Every difference between the SQL this service sends to SQLite and to PostgreSQL. The rest of
//! the store writes one statement for both.
//!
//! - Claiming jobs: PostgreSQL replicas share the queue, so the claim skips rows another replica
//!   is claiming at the same moment (`FOR UPDATE SKIP LOCKED`) instead of waiting for them or
//!   claiming them twice; SQLite has one writer connection, which serialises claims already.
//! - Telling other replicas about a new job: PostgreSQL `NOTIFY` on a channel named for the
//!   current schema; SQLite has one process per queue, so there is nobody to tell.

use service_kit::db::Backend;
use sqlx::AnyPool;

use super::rows::job_columns;

/// The base of the `NOTIFY` channel; [`service_kit::listen::channel_for`] adds the schema, so
/// services and tests that share one PostgreSQL database in different schemas do not hear each
/// other.
const CHANNEL: &str = "notifications_new_job";

/// The claim of up to `$4` due jobs for lease token `$1` until `$2`, at time `$3`: queued jobs
/// whose time has come and `sending` ones whose lease expired, oldest due first; `$lock` goes
/// after the row selection.
macro_rules! claim_due_jobs {
    ($lock:literal) => {
        concat!(
            "UPDATE jobs SET status = 'sending', attempts = attempts + 1, lease_token = $1, \
             lease_expires_at = $2, updated_at = $3 WHERE id IN (SELECT id FROM jobs \
             WHERE (status = 'queued' AND next_attempt_at <= $3) OR (status = 'sending' AND lease_expires_at <= $3) \
             ORDER BY next_attempt_at, seq LIMIT $4",
            $lock,
            ") RETURNING ",
            job_columns!()
        )
    };
}

/// The SQL of one backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect(Backend);

impl Dialect {
    pub fn of(backend: Backend) -> Self {
        Self(backend)
    }

    /// See [`claim_due_jobs`].
    pub fn claim(self) -> &'static str {
        match self.0 {
            Backend::Sqlite => claim_due_jobs!(""),
            Backend::Postgres => claim_due_jobs!(" FOR UPDATE SKIP LOCKED"),
        }
    }

    /// The channel on which replicas tell each other about new jobs, if this backend has
    /// replicas to tell.
    pub async fn channel(self, pool: &AnyPool) -> Result<Option<String>, sqlx::Error> {
        match self.0 {
            Backend::Sqlite => Ok(None),
            Backend::Postgres => service_kit::listen::channel_for(pool, CHANNEL).await.map(Some),
        }
    }

    /// The statement that tells every replica listening on channel `$1` that a job was stored,
    /// if this backend has replicas to tell.
    pub fn announce_new_job(self) -> Option<&'static str> {
        match self.0 {
            Backend::Sqlite => None,
            Backend::Postgres => Some("SELECT pg_notify($1, '')"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claims_differ_only_by_the_lock() {
        let sqlite = Dialect::of(Backend::Sqlite).claim();
        let postgres = Dialect::of(Backend::Postgres).claim();
        assert_eq!(postgres.replacen(" FOR UPDATE SKIP LOCKED", "", 1), sqlite);
        assert!(postgres.contains("LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING seq, id,"), "{postgres}");
    }
}
