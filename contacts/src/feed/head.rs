//! The newest committed event sequence, shared in-process through a `watch` channel.
//!
//! Writers advance it right after their commit; on PostgreSQL the listener advances it when
//! another replica commits. Feed requests read it without touching the database (an ETag check
//! is a memory read) and long-polling requests wait on it.

use tokio::sync::watch;

/// Where the event log stands: the last committed sequence and the live contacts after it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Head {
    pub sequence: i64,
    pub contacts: i64,
}

/// The shared [`Head`]. Cloning shares it.
#[derive(Debug, Clone)]
pub struct FeedHead(watch::Sender<Head>);

impl FeedHead {
    pub fn new(initial: Head) -> Self {
        metrics::gauge!(crate::metrics::CONTACTS).set(initial.contacts as f64);
        Self(watch::Sender::new(initial))
    }

    pub fn get(&self) -> Head {
        *self.0.borrow()
    }

    pub fn subscribe(&self) -> watch::Receiver<Head> {
        self.0.subscribe()
    }

    /// How many receivers watch the head right now (held feed requests among them).
    pub fn watchers(&self) -> usize {
        self.0.receiver_count()
    }

    /// Moves the head forward to `head` unless it is already there or beyond (commits can be
    /// reported out of order). Returns whether it moved.
    pub fn advance(&self, head: Head) -> bool {
        self.0.send_if_modified(|current| {
            if head.sequence > current.sequence {
                *current = head;
                // Under the channel's lock, so the gauge never goes back to an older count.
                metrics::gauge!(crate::metrics::CONTACTS).set(head.contacts as f64);
                true
            } else {
                false
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_only_moves_forward() {
        let head = FeedHead::new(Head::default());
        assert!(head.advance(Head { sequence: 2, contacts: 2 }));
        assert!(!head.advance(Head { sequence: 1, contacts: 1 }));
        assert_eq!(head.get(), Head { sequence: 2, contacts: 2 });
    }
}
