//! Every SQL difference between SQLite and PostgreSQL, in one place. Each statement is written
//! once and only the part that differs is filled in per database.
//!
//! PostgreSQL needs row locks where replicas of calendar share a database: the dispatchers of
//! two replicas must not claim the same outbox rows (`FOR UPDATE SKIP LOCKED`), nor two feed
//! followers apply the same event (`FOR UPDATE` on the checkpoint). SQLite has one writer
//! connection, so a plain read inside a write transaction is already serialised with every
//! other write, and it knows no `FOR UPDATE`.

use service_kit::db::Backend;

/// The statements that are spelled differently on each database.
#[derive(Debug)]
pub struct Dialect {
    /// Claims up to `$3` due outbox rows by moving their `next_attempt_at` to `$1` (`$2` is now).
    pub claim_due: &'static str,
    /// Reads the feed checkpoint inside a write transaction, locking it.
    pub checkpoint_for_update: &'static str,
}

macro_rules! claim_due {
    ($lock:literal) => {
        concat!(
            "UPDATE outbox SET next_attempt_at = $1, updated_at = $2 WHERE id IN (SELECT id FROM outbox ",
            "WHERE status = 'pending' AND next_attempt_at <= $2 ORDER BY next_attempt_at, id LIMIT $3",
            $lock,
            ") RETURNING id, event_id, email, subject, message, calendar, request_id, attempts, created_at"
        )
    };
}

macro_rules! checkpoint {
    ($lock:literal) => {
        concat!(
            "SELECT sequence, event_timestamp, entry_id, applied FROM feed_checkpoint WHERE id = 1",
            $lock
        )
    };
}

/// Reads the checkpoint outside a transaction (the same on both databases).
pub const CHECKPOINT: &str = checkpoint!("");

const POSTGRES: Dialect = Dialect {
    claim_due: claim_due!(" FOR UPDATE SKIP LOCKED"),
    checkpoint_for_update: checkpoint!(" FOR UPDATE"),
};

const SQLITE: Dialect = Dialect { claim_due: claim_due!(""), checkpoint_for_update: checkpoint!("") };

impl Dialect {
    pub fn of(backend: Backend) -> &'static Self {
        match backend {
            Backend::Postgres => &POSTGRES,
            Backend::Sqlite => &SQLITE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statements_differ_only_by_their_locks() {
        let pg = Dialect::of(Backend::Postgres);
        let lite = Dialect::of(Backend::Sqlite);
        assert_eq!(pg.claim_due.replace(" FOR UPDATE SKIP LOCKED", ""), lite.claim_due);
        assert!(pg.claim_due.contains("LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING"), "{}", pg.claim_due);
        assert_eq!(pg.checkpoint_for_update, format!("{CHECKPOINT} FOR UPDATE"));
        assert_eq!(lite.checkpoint_for_update, CHECKPOINT);
    }
}
