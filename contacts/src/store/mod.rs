//! SQL for contacts and their events, behind [`Store`]: it owns the database's pools and picks
//! one itself (every write on the writer, every read on the reader), so handlers and workers only
//! call its methods. Every write appends one event and updates the read model in one transaction.
//!
//! `reads.rs` holds the queries (listing, search, one contact, the event log), `writes.rs` the
//! writes, `rebuild.rs` the read model replayed from the log, `rows.rs` how rows map to domain
//! values, `dialect.rs` every difference between SQLite's and PostgreSQL's SQL, and `cache.rs`
//! SQLite's in-process cache of contacts.

mod cache;
mod dialect;
mod reads;
mod rebuild;
mod rows;
mod writes;

use std::sync::Arc;

use service_kit::db::Db;
use service_kit::listen;

use crate::feed::head::FeedHead;

pub use reads::{Cursor, ListQuery, Page};
pub use rebuild::PROJECTION_VERSION;
pub use writes::WriteError;

/// The contacts database plus the in-process feed head it advances on every commit.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    dialect: dialect::Dialect,
    head: FeedHead,
    /// PostgreSQL channel that tells other replicas about new events.
    notify_channel: Option<Arc<str>>,
    /// Contacts by id; SQLite only (see `cache.rs`).
    cache: Option<Arc<cache::ContactCache>>,
}

impl Store {
    /// Reads where the log stands and builds the store with a head starting there. When other
    /// replicas may share the database (PostgreSQL) and `channel` is given, every commit is
    /// announced on that channel of the current schema ([`listen::channel_for`]), which
    /// [`Store::notify_channel`] names for the listener.
    pub async fn open(db: Db, channel: Option<&str>) -> Result<Self, sqlx::Error> {
        let dialect = dialect::Dialect::of(db.backend());
        let notify_channel = match channel {
            Some(base) if dialect.shared_by_replicas() => {
                Some(Arc::from(listen::channel_for(&db.reader, base).await?))
            }
            _ => None,
        };
        let head = FeedHead::new(rows::read_head(&db.reader).await?);
        let cache = dialect.caches_contacts().then(Arc::default);
        let store = Self { db, dialect, head, notify_channel, cache };
        store.upgrade_projection().await?;
        Ok(store)
    }

    pub fn head(&self) -> &FeedHead {
        &self.head
    }

    /// The channel commits are announced on, when they are (see [`Store::open`]).
    pub fn notify_channel(&self) -> Option<&str> {
        self.notify_channel.as_deref()
    }
}
