//! SQL, one module per table group. Queries run on both SQLite and PostgreSQL through sqlx's
//! `Any` driver (see `service_kit::db` for the rules that keeps working).

pub mod checkpoint;
pub mod events;
pub mod outbox;
pub mod users;

use uuid::Uuid;

/// Parses an id column; the store only ever writes UUIDs there.
fn uuid_column(raw: &str) -> Result<Uuid, sqlx::Error> {
    Uuid::parse_str(raw).map_err(|e| sqlx::Error::Decode(format!("bad UUID in the database: {e}").into()))
}

/// A transaction on the writer pool.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;
