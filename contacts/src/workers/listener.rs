//! PostgreSQL only: replicas sharing one database tell each other about new events with
//! LISTEN/NOTIFY (`service_kit::listen`), so a long-polling request held by one replica wakes when
//! another commits.
//!
//! Writers `pg_notify` inside their transaction (delivered at commit, in commit order) with the
//! payload `"<sequence> <contacts>"`. After every (re)connect the head is read from the
//! database, since notifications sent while the listener was away are lost.

use service_kit::listen::Notified;

use crate::feed::head::Head;
use crate::store::Store;

/// The base of the channel name (`service_kit::listen::channel_for` adds the schema).
pub const CHANNEL: &str = "contact_events";

/// Moves the store's feed head when another replica commits.
#[derive(Debug, Clone)]
pub struct HeadListener(pub Store);

impl Notified for HeadListener {
    async fn connected(&self) -> Result<(), sqlx::Error> {
        // Anything committed before LISTEN took effect was not announced to us.
        self.0.head().advance(self.0.read_head().await?);
        Ok(())
    }

    fn notified(&self, payload: &str) {
        match parse_payload(payload) {
            Some(head) => {
                self.0.head().advance(head);
            }
            None => tracing::warn!(payload, "ignoring a malformed event notification"),
        }
    }
}

fn parse_payload(payload: &str) -> Option<Head> {
    let (sequence, contacts) = payload.split_once(' ')?;
    Some(Head { sequence: sequence.parse().ok()?, contacts: contacts.parse().ok()? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_carry_sequence_and_count() {
        assert_eq!(parse_payload("12 7"), Some(Head { sequence: 12, contacts: 7 }));
        assert_eq!(parse_payload("12"), None);
        assert_eq!(parse_payload("x 7"), None);
    }
}
