//! Parking an entry the follower cannot apply: a `feed_parked` row with the raw content and the
//! reason, written in the transaction that moves the checkpoint past the entry.

use super::apply::{Refusal, contact_of};
use super::document::FeedEvent;
use crate::store::{Checkpoint, NewParked, WriteTx};

/// Most of an entry's content kept in its parked row (a hostile feed could park megabytes).
pub const CONTENT_KEPT: usize = 64 * 1024;

/// Why an entry is parked, after how many attempts.
#[derive(Debug)]
pub struct Attempts {
    pub refusal: Refusal,
    pub attempts: u32,
}

/// Parks `event` in `tx` and moves `position` past it.
pub async fn park(
    tx: &mut WriteTx,
    event: &FeedEvent,
    why: &Attempts,
    position: &mut Checkpoint,
) -> Result<(), sqlx::Error> {
    let (contact_id, contact_url) = contact_of(event);
    let contact_id = why.refusal.contact_id.or(contact_id);
    let contact_url = why.refusal.contact_url.clone().or(contact_url);
    let content = cut(&event.content, CONTENT_KEPT);
    tx.park(&NewParked {
        entry_id: &event.entry_id,
        sequence: event.sequence,
        kind: super::apply::type_label(&event.kind),
        contact_id,
        contact_url: contact_url.as_deref(),
        content: &content,
        reason: &why.refusal.reason,
        attempts: i64::from(why.attempts),
    })
    .await?;
    advance(position, event);
    Ok(())
}

/// Moves `position` past `event` (applied or parked).
pub fn advance(position: &mut Checkpoint, event: &FeedEvent) {
    if let Some(sequence) = event.sequence {
        position.sequence = sequence;
    }
    position.event_timestamp = event.timestamp;
    position.entry_id.clone_from(&event.entry_id);
    position.applied += 1;
}

/// `text` cut to at most `max` bytes at a character boundary, saying so when it was cut.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [cut: {} bytes in all]", &text[..end], text.len())
}

/// A stable hash of a document (to recognise one already applied when the server sends no ETag).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_content_is_cut_at_a_character_boundary() {
        assert_eq!(cut("short", 10), "short");
        let cut_text = cut(&"é".repeat(10), 5);
        assert!(cut_text.starts_with("éé…"), "{cut_text}");
        assert!(cut_text.ends_with("[cut: 20 bytes in all]"));
    }
}
