//! `feed_consumer_lag_seconds` and `feed_consumer_position`: how far behind the follower is.
//!
//! The lag is the age of the oldest event the follower has seen in the feed but not applied yet;
//! while its steps fail, at least the time since its last successful step (since start when it
//! never had one). It is 0 only when the follower is caught up, and never 0 while it is behind
//! or stuck.

use crate::metrics::{FEED_CHECKPOINT, FEED_CONSUMER_LAG, FEED_CONSUMER_POSITION};
use crate::store::Checkpoint;

#[derive(Debug)]
pub struct Lag {
    started: i64,
    last_success: Option<i64>,
    /// When the oldest event not applied yet happened (or was first seen, when it has no time).
    pending_since: Option<i64>,
    /// Whether the last step failed.
    failing: bool,
}

impl Lag {
    pub fn new(now: i64) -> Self {
        Self { started: now, last_success: None, pending_since: None, failing: false }
    }

    /// The next event to apply happened at `timestamp` (`None`: nothing waits in this batch).
    pub fn pending(&mut self, timestamp: Option<i64>, now: i64) {
        self.pending_since = timestamp.map(|t| if t > 0 { t.min(now) } else { now });
    }

    pub fn caught_up(&mut self, now: i64) {
        self.last_success = Some(now);
        self.pending_since = None;
        self.failing = false;
    }

    /// A step failed (the feed could not be read, or an entry not applied).
    pub fn failed(&mut self) {
        self.failing = true;
    }

    pub fn seconds(&self, now: i64) -> f64 {
        let pending = self.pending_since.map(|since| now - since);
        let failing = self.failing.then(|| now - self.last_success.unwrap_or(self.started));
        match pending.max(failing) {
            None => 0.0,
            // Behind by less than a millisecond is still behind.
            Some(ms) => ms.max(1) as f64 / 1000.0,
        }
    }

    pub fn publish_seconds(&self, now: i64) {
        metrics::gauge!(FEED_CONSUMER_LAG).set(self.seconds(now));
    }

    pub fn publish(&self, now: i64, checkpoint: &Checkpoint) {
        self.publish_seconds(now);
        metrics::gauge!(FEED_CHECKPOINT).set(checkpoint.sequence as f64);
        metrics::gauge!(FEED_CONSUMER_POSITION).set(checkpoint.position() as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_only_when_caught_up() {
        let mut lag = Lag::new(1_000);
        assert_eq!(lag.seconds(5_000), 0.0, "nothing known to be waiting");
        lag.failed();
        assert_eq!(lag.seconds(5_000), 4.0, "never read: since start");
        lag.caught_up(6_000);
        assert_eq!(lag.seconds(9_000), 0.0);
        lag.pending(Some(8_000), 9_000);
        assert_eq!(lag.seconds(9_000), 1.0, "the oldest event waiting");
        lag.failed();
        assert_eq!(lag.seconds(10_000), 4.0, "stuck on an entry: at least since the last success");
        lag.pending(Some(10_000), 10_000);
        assert!(lag.seconds(10_000) > 0.0, "behind, however little");
        lag.caught_up(11_000);
        assert_eq!(lag.seconds(11_000), 0.0);
    }
}
