//! A read-through cache of contacts by id, for SQLite only.
//!
//! With SQLite one process owns the database, so every write passes through this process and
//! moves the feed head. Entries are valid only while the head stays where it was when they
//! were read; any write empties the cache. A read that raced a write is not stored: the head is
//! compared before and after. With PostgreSQL other replicas write too, and their notifications
//! arrive a little later than their commits, so caching there could serve a replica's reader
//! an older contact than the database holds; it is not used there.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::domain::{Contact, ContactId};
use crate::feed::head::FeedHead;

/// Most entries kept; reaching it starts over (simple, and rare for an address book).
const CAPACITY: usize = 10_000;

#[derive(Debug, Default)]
pub struct ContactCache(RwLock<Entries>);

#[derive(Debug, Default)]
struct Entries {
    /// The head sequence the entries were read at.
    sequence: i64,
    by_id: HashMap<ContactId, Option<Contact>>,
}

impl ContactCache {
    /// The cached answer for `id` (`Some(None)`: known not to exist), if still valid.
    pub fn get(&self, id: ContactId, head: &FeedHead) -> Option<Option<Contact>> {
        let entries = self.0.read().unwrap_or_else(|e| e.into_inner());
        if entries.sequence != head.get().sequence {
            return None;
        }
        entries.by_id.get(&id).cloned()
    }

    /// Stores what the database said about `id`, read after the head was at `read_at`.
    pub fn put(&self, id: ContactId, contact: Option<Contact>, read_at: i64, head: &FeedHead) {
        let mut entries = self.0.write().unwrap_or_else(|e| e.into_inner());
        // A write moved the head since the read: the value may be older than the database.
        if head.get().sequence != read_at {
            return;
        }
        if entries.sequence != read_at || entries.by_id.len() >= CAPACITY {
            entries.by_id.clear();
            entries.sequence = read_at;
        }
        entries.by_id.insert(id, contact);
    }

    pub fn clear(&self) {
        self.0.write().unwrap_or_else(|e| e.into_inner()).by_id.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::head::Head;

    fn contact(id: ContactId, name: &str) -> Contact {
        Contact { id, firstname: name.into(), lastname: "Doe".into(), email: "j@example.org".into() }
    }

    #[test]
    fn entries_last_until_the_next_write() {
        let head = FeedHead::new(Head { sequence: 1, contacts: 1 });
        let cache = ContactCache::default();
        let id = ContactId::generate();
        cache.put(id, Some(contact(id, "Jane")), 1, &head);
        assert_eq!(cache.get(id, &head), Some(Some(contact(id, "Jane"))));
        head.advance(Head { sequence: 2, contacts: 1 });
        assert_eq!(cache.get(id, &head), None);
    }

    #[test]
    fn a_read_that_raced_a_write_is_not_kept() {
        let head = FeedHead::new(Head { sequence: 1, contacts: 1 });
        let cache = ContactCache::default();
        let id = ContactId::generate();
        // Read at 1, then a write moved the head to 2 before the result was stored.
        head.advance(Head { sequence: 2, contacts: 1 });
        cache.put(id, Some(contact(id, "Old")), 1, &head);
        assert_eq!(cache.get(id, &head), None);
    }
}
