//! Rebuilding the read model from the event log: the proof that the events are the truth.

use std::collections::{BTreeMap, HashSet};

use super::Store;
use super::dialect::INSERT_CONTACT;
use super::rows::{ALL_EVENTS, bind_contact_keyed, event_from_row};
use crate::domain::{Contact, ContactId, replay};

/// The rules of the read model's derived columns (see migration 0003): 2 = folded search and
/// sort keys, 3 = e-mail uniqueness by look-alike key (`service_kit::email::lookalike_key`).
pub const PROJECTION_VERSION: i64 = 3;

impl Store {
    /// Rebuilds the read model when it was written by older rules than [`PROJECTION_VERSION`]
    /// (once, as the store opens after an upgrade); returns whether it did.
    pub(super) async fn upgrade_projection(&self) -> Result<bool, sqlx::Error> {
        let version: i64 = sqlx::query_scalar("SELECT version FROM projection WHERE id = 1")
            .fetch_one(&self.db.writer)
            .await?;
        if version >= PROJECTION_VERSION {
            return Ok(false);
        }
        let contacts = self.rebuild_projection().await?;
        tracing::info!(
            from = version,
            to = PROJECTION_VERSION,
            contacts,
            "read model rebuilt for new search and sort rules"
        );
        Ok(true)
    }

    /// The state of every contact computed from the events alone.
    pub async fn replay(&self) -> Result<BTreeMap<ContactId, Contact>, sqlx::Error> {
        Ok(replay(&self.all_events().await?))
    }

    /// Replaces the read model (and the live count) with the state replayed from the events.
    /// Writers wait while it runs. Returns the number of contacts. On SQLite, run it with the
    /// service stopped or in the service's own process: another process's cache is not cleared.
    pub async fn rebuild_projection(&self) -> Result<usize, sqlx::Error> {
        let mut tx = self.db.writer.begin().await?;
        if let Some(lock) = self.dialect.lock_for_rebuild() {
            sqlx::query(lock).execute(&mut *tx).await?;
        }
        let events = sqlx::query(ALL_EVENTS)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(event_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let state = replay(&events);
        sqlx::query("DELETE FROM contacts").execute(&mut *tx).await?;
        let mut keys = HashSet::with_capacity(state.len());
        for contact in state.values() {
            let mut key = contact.email_key();
            if !keys.insert(key.clone()) {
                // Two contacts stored under older rules whose addresses are look-alikes now (NFC
                // and NFD, full-width letters). Both are kept; the later one's key names its id,
                // so no new contact can take that address and an operator can merge the two.
                tracing::warn!(
                    contact = %contact.id,
                    email = %contact.email,
                    "two contacts have look-alike e-mail addresses; both are kept"
                );
                key = format!("{key} {}", contact.id);
                keys.insert(key.clone());
            }
            bind_contact_keyed(sqlx::query(INSERT_CONTACT), contact, key).execute(&mut *tx).await?;
        }
        sqlx::query("UPDATE event_counter SET contact_count = $1 WHERE id = 1")
            .bind(state.len() as i64)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE projection SET version = $1 WHERE id = 1")
            .bind(PROJECTION_VERSION)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if let Some(cache) = &self.cache {
            cache.clear();
        }
        Ok(state.len())
    }
}
